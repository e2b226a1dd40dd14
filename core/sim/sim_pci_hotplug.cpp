// PciBus's devices coming and going: a hot plug or removal, and the VFs
// that sriov_configure adds and removes.
#include "sim/sim_pci_bus.hpp"

#include <algorithm>
#include <cerrno>

namespace vfiod::sim
{

int PciBus::enableSriov(Device& pf, unsigned count)
{
    std::vector<PciAddress> addresses;
    for (unsigned i = 0; i < count; ++i)
    {
        std::optional<PciAddress> vf = vfAddress(pf, i);
        if (!vf)
        {
            return -ENOMEM; // the bus range behind the PF runs out
        }
        if (findDevice(model, *vf) != nullptr)
        {
            return -EBUSY;
        }
        addresses.push_back(*vf);
    }
    pf.sriovNumVfs = count;
    int group = nextFreeGroup();
    // Copy what the VFs inherit: adding devices does not move pf in the
    // map, but keep the values independent of that.
    const Device parent = pf;
    for (unsigned i = 0; i < count; ++i)
    {
        Device vf;
        vf.address = addresses[i];
        vf.vendor = parent.vendor;
        vf.device = parent.sriovVfDevice;
        vf.subvendor = parent.subvendor;
        vf.subdevice = parent.subdevice;
        vf.classCode = parent.classCode;
        vf.revision = parent.revision;
        vf.numaNode = parent.numaNode;
        vf.resetSupported = parent.sriovVfResetMethods;
        vf.resetEnabled = parent.sriovVfResetMethods;
        vf.physfn = parent.address;
        vf.vfIndex = i;
        switch (parent.sriovVfGroup)
        {
            case VfGroup::Own:
                vf.iommuGroup = group++;
                break;
            case VfGroup::Pf:
                vf.iommuGroup = parent.iommuGroup;
                break;
            case VfGroup::None:
                vf.iommuGroup = -1;
                break;
        }
        addDevice(std::move(vf));
    }
    return 0;
}

void PciBus::disableSriov(Device& pf)
{
    std::vector<PciAddress> addresses;
    for (Device* vf : vfsOf(pf))
    {
        addresses.push_back(vf->address);
    }
    for (const PciAddress& address : addresses)
    {
        Device* vf = findDevice(model, address);
        detach(*vf);
        emitPci("remove", *vf);
        model.devices.erase(address);
    }
    pf.sriovNumVfs = 0;
}

void PciBus::addDevice(Device device)
{
    PciAddress address = device.address;
    auto [it, inserted] = model.devices.emplace(address, std::move(device));
    emitPci("add", it->second);
    // bus_probe_device with drivers_autoprobe; errors are only logged.
    deviceAttach(it->second);
}

void PciBus::removeDevice(const PciAddress& address)
{
    Device* device = findDevice(model, address);
    if (device == nullptr)
    {
        return;
    }
    if (device->sriovNumVfs > 0)
    {
        disableSriov(*device);
    }
    detach(*device);
    emitPci("remove", *device);
    model.devices.erase(address);
}

std::vector<Device*> PciBus::vfsOf(const Device& pf)
{
    std::vector<Device*> vfs;
    for (unsigned i = 0; i < pf.sriovNumVfs; ++i)
    {
        std::optional<PciAddress> address = vfAddress(pf, i);
        Device* vf = address ? findDevice(model, *address) : nullptr;
        if (vf != nullptr && vf->physfn == pf.address)
        {
            vfs.push_back(vf);
        }
    }
    return vfs;
}

bool PciBus::anyVfOpen(const Device& pf)
{
    std::vector<Device*> vfs = vfsOf(pf);
    return std::any_of(vfs.begin(), vfs.end(),
                       [](const Device* vf) { return isVfioOpen(*vf); });
}

int PciBus::nextFreeGroup() const
{
    int top = -1;
    for (const auto& [address, device] : model.devices)
    {
        top = std::max(top, device.iommuGroup);
    }
    return top + 1;
}

} // namespace vfiod::sim
