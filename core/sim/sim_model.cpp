#include "sim/sim_model.hpp"

#include "kernel/sysfs_layout.hpp"

#include <algorithm>
#include <cstdio>

namespace vfiod::sim
{

const std::vector<std::string>& knownResetMethods()
{
    static const std::vector<std::string> methods(sysfs::resetMethods.begin(),
                                                  sysfs::resetMethods.end());
    return methods;
}

bool isVfioDriverName(std::string_view name) noexcept
{
    return name == "vfio-pci" || name.ends_with("_vfio_pci");
}

bool sameModuleName(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
    {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i)
    {
        char x = a[i] == '-' ? '_' : a[i];
        char y = b[i] == '-' ? '_' : b[i];
        if (x != y)
        {
            return false;
        }
    }
    return true;
}

Device* findDevice(Model& model, const PciAddress& address)
{
    auto it = model.devices.find(address);
    return it == model.devices.end() ? nullptr : &it->second;
}

const Device* findDevice(const Model& model, const PciAddress& address)
{
    auto it = model.devices.find(address);
    return it == model.devices.end() ? nullptr : &it->second;
}

Driver* findDriver(Model& model, std::string_view name)
{
    auto it = std::find_if(model.drivers.begin(), model.drivers.end(),
                           [&](const Driver& d) { return d.name == name; });
    return it == model.drivers.end() ? nullptr : &*it;
}

const Driver* findDriver(const Model& model, std::string_view name)
{
    return findDriver(const_cast<Model&>(model), name);
}

Module* findModule(Model& model, std::string_view name)
{
    auto it = std::find_if(
        model.modules.begin(), model.modules.end(),
        [&](const Module& m) { return sameModuleName(m.name, name); });
    return it == model.modules.end() ? nullptr : &*it;
}

const Module* findModule(const Model& model, std::string_view name)
{
    return findModule(const_cast<Model&>(model), name);
}

bool isRegistered(const Model& model, std::string_view driver)
{
    return std::find(model.registered.begin(), model.registered.end(),
                     driver) != model.registered.end();
}

bool vfioLoaded(const Model& model)
{
    const Module* vfio = findModule(model, "vfio");
    if (vfio != nullptr && vfio->loaded)
    {
        return true;
    }
    // A vfio driver cannot be registered without the vfio core it links
    // against, even when the host file does not spell the dependency out.
    return std::any_of(
        model.registered.begin(), model.registered.end(),
        [](const std::string& d) { return isVfioDriverName(d); });
}

bool isVfioOpen(const Device& device) noexcept
{
    return device.openCount > 0 && isVfioDriverName(device.driver);
}

std::optional<PciAddress> vfAddress(const Device& pf, unsigned index)
{
    // Routing ID arithmetic (PCIe SR-IOV 3.3.10/3.3.11): VF n sits at
    // PF RID + First VF Offset + n * VF Stride, which may cross buses.
    unsigned rid = (unsigned{pf.address.bus} << 8) |
                   (unsigned{pf.address.device} << 3) | pf.address.function;
    unsigned vfRid = rid + pf.sriovOffset + index * pf.sriovStride;
    if (vfRid > 0xffff)
    {
        return std::nullopt;
    }
    PciAddress vf;
    vf.domain = pf.address.domain;
    vf.bus = static_cast<uint8_t>(vfRid >> 8);
    vf.device = static_cast<uint8_t>((vfRid >> 3) & 0x1f);
    vf.function = static_cast<uint8_t>(vfRid & 7);
    return vf;
}

std::string modalias(const Device& device)
{
    char buf[80];
    std::snprintf(buf, sizeof buf,
                  "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
                  unsigned{device.vendor}, unsigned{device.device},
                  unsigned{device.subvendor}, unsigned{device.subdevice},
                  (device.classCode >> 16) & 0xff,
                  (device.classCode >> 8) & 0xff, device.classCode & 0xff);
    return buf;
}

} // namespace vfiod::sim
