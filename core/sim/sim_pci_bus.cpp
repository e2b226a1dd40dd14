#include "sim/sim_pci_bus.hpp"

#include "sim/sim_migration.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace vfiod::sim
{

namespace
{

bool contains(const std::vector<std::string>& list, std::string_view item)
{
    return std::find(list.begin(), list.end(), item) != list.end();
}

/** @brief pci_match_one_device. */
bool matchOne(const IdMatch& id, const Device& device)
{
    return (id.vendor == anyId || id.vendor == device.vendor) &&
           (id.device == anyId || id.device == device.device) &&
           (id.subvendor == anyId || id.subvendor == device.subvendor) &&
           (id.subdevice == anyId || id.subdevice == device.subdevice) &&
           ((id.classCode ^ device.classCode) & id.classMask) == 0;
}

std::string hexUpper(unsigned value, int width)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*X", width, value);
    return buf;
}

} // namespace

std::string devpathOf(const PciAddress& address)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "/devices/pci%04x:%02x/", address.domain,
                  unsigned{address.bus});
    return buf + address.str();
}

bool PciBus::matches(const Driver& driver, const Device& device) const
{
    // With driver_override set, only the named driver may bind, and it
    // always matches (the kernel hands it a dummy id).
    if (device.driverOverride && *device.driverOverride != driver.name)
    {
        return false;
    }
    for (const IdMatch& id : driver.dynamicIds)
    {
        if (matchOne(id, device))
        {
            return true;
        }
    }
    if (!driver.overrideOnly)
    {
        for (const IdMatch& id : driver.ids)
        {
            if (matchOne(id, device))
            {
                return true;
            }
        }
    }
    return device.driverOverride.has_value();
}

bool PciBus::canProbe(const Device& device) const
{
    if (!device.physfn)
    {
        return true;
    }
    const Device* pf = findDevice(model, *device.physfn);
    return (pf != nullptr && pf->sriovAutoprobe) ||
           device.driverOverride.has_value();
}

int PciBus::probe(Device& device, const Driver& driver)
{
    // really_probe -> pci_dma_configure: a driver using the DMA API cannot
    // take a device whose group a vfio user owns. This fails before the
    // probe proper, so it is a negative (hard) error.
    if (!driver.managedDma && groupHasVfioUser(device.iommuGroup))
    {
        return -EBUSY;
    }
    // pci_device_probe.
    if (!canProbe(device))
    {
        return ENODEV;
    }
    if (contains(device.failProbe, driver.name))
    {
        return EIO;
    }
    if (isVfioDriverName(driver.name))
    {
        // vfio_pci_core_register_device's refusals, in its order.
        if (device.headerType != 0)
        {
            return EINVAL;
        }
        if (device.sriovNumVfs > 0)
        {
            return EBUSY;
        }
        if (device.iommuGroup < 0)
        {
            return EINVAL;
        }
    }
    attach(device, driver);
    return 0;
}

int PciBus::deviceAttach(Device& device)
{
    if (!device.driver.empty())
    {
        return 1;
    }
    for (const std::string& name : model.registered)
    {
        const Driver* driver = findDriver(model, name);
        if (driver == nullptr || !matches(*driver, device))
        {
            continue;
        }
        int ret = probe(device, *driver);
        if (ret == 0)
        {
            return 1;
        }
        if (ret < 0)
        {
            return ret;
        }
        // A failed probe lets the next driver try its luck.
    }
    return 0;
}

void PciBus::driverAttach(const Driver& driver)
{
    for (auto& [address, device] : model.devices)
    {
        // A device mid-operation holds its device lock; it is bound (an
        // unbind) or about to go, so there is nothing to attach.
        if (!device.driver.empty() ||
            device.pending.kind != PendingKind::None ||
            !matches(driver, device))
        {
            continue;
        }
        // __driver_attach ignores probe errors.
        probe(device, driver);
    }
}

void PciBus::attach(Device& device, const Driver& driver)
{
    if (isVfioDriverName(driver.name))
    {
        if (!hasOtherVfioMember(device))
        {
            emitVfioGroup("add", device.iommuGroup);
        }
        device.vfioDev = allocateVfioDev();
        emitVfioDev("add", device);
    }
    device.driver = driver.name;
    emitPci("bind", device, driver.name);
}

void PciBus::detach(Device& device)
{
    if (device.driver.empty())
    {
        return;
    }
    if (isVfioDriverName(device.driver))
    {
        emitVfioDev("remove", device);
        device.vfioDev = -1;
        if (!hasOtherVfioMember(device))
        {
            emitVfioGroup("remove", device.iommuGroup);
        }
    }
    // The PF driver's remove may leave SR-IOV enabled (pci_iov_remove only
    // warns), so VFs stay; the simulated drivers all behave that way.
    device.driver.clear();
    emitPci("unbind", device);
}

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

int PciBus::checkReset(const Device& device) const
{
    // __pci_reset_function_locked: a method failing with ENOTTY passes on
    // to the next one.
    for (const std::string& method : device.resetEnabled)
    {
        if (!contains(device.failReset, method))
        {
            return 0;
        }
    }
    return -ENOTTY;
}

void PciBus::loadModule(Module& module)
{
    if (module.loaded)
    {
        return;
    }
    // Mark first so a dependency cycle cannot recurse forever.
    module.loaded = true;
    for (const std::string& name : module.depends)
    {
        if (Module* dep = findModule(model, name))
        {
            loadModule(*dep);
        }
    }
    for (const std::string& name : module.drivers)
    {
        if (isRegistered(model, name))
        {
            continue;
        }
        model.registered.push_back(name);
        if (const Driver* driver = findDriver(model, name))
        {
            // bus_add_driver with drivers_autoprobe.
            driverAttach(*driver);
        }
    }
}

bool PciBus::groupHasVfioUser(int group) const
{
    if (group < 0)
    {
        return false;
    }
    return std::any_of(
        model.devices.begin(), model.devices.end(), [group](const auto& entry) {
            return entry.second.iommuGroup == group && isVfioOpen(entry.second);
        });
}

const Device* PciBus::viabilityBlocker(int group, const Device* except) const
{
    for (const auto& [address, device] : model.devices)
    {
        if (device.iommuGroup != group || &device == except ||
            device.driver.empty())
        {
            continue;
        }
        const Driver* driver = findDriver(model, device.driver);
        if (driver == nullptr || !driver->managedDma)
        {
            return &device;
        }
    }
    return nullptr;
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

bool PciBus::pendingReady(const Device& device, int64_t nowMs)
{
    auto anyVfOpen = [this, &device] {
        std::vector<Device*> vfs = vfsOf(device);
        return std::any_of(vfs.begin(), vfs.end(),
                           [](const Device* vf) { return isVfioOpen(*vf); });
    };
    switch (device.pending.kind)
    {
        case PendingKind::None:
            return false;
        case PendingKind::Unbind:
            return nowMs >= device.pending.readyAtMs && !isVfioOpen(device);
        case PendingKind::Reset:
            return nowMs >= device.pending.readyAtMs;
        case PendingKind::Remove:
            return !isVfioOpen(device) && !anyVfOpen();
        case PendingKind::DisableSriov:
            return !anyVfOpen();
    }
    return false;
}

bool PciBus::settle(int64_t nowMs)
{
    std::vector<PciAddress> waiting;
    for (const auto& [address, device] : model.devices)
    {
        if (device.pending.kind != PendingKind::None)
        {
            waiting.push_back(address);
        }
    }
    bool changed = false;
    for (const PciAddress& address : waiting)
    {
        // An earlier completion (a PF removing its VFs) may have removed it.
        Device* device = findDevice(model, address);
        if (device != nullptr && pendingReady(*device, nowMs))
        {
            completePending(address);
            changed = true;
        }
    }
    return changed;
}

void PciBus::completePending(const PciAddress& address)
{
    Device& device = *findDevice(model, address);
    PendingKind kind = device.pending.kind;
    device.pending = Pending{};
    switch (kind)
    {
        case PendingKind::None:
            break;
        case PendingKind::Unbind:
            detach(device);
            break;
        case PendingKind::Reset:
            ++device.resetCount;
            resetMigration(device);
            break;
        case PendingKind::Remove:
            removeDevice(address);
            break;
        case PendingKind::DisableSriov:
            disableSriov(device);
            break;
    }
}

bool PciBus::hasOtherVfioMember(const Device& device) const
{
    if (device.iommuGroup < 0)
    {
        return false;
    }
    return std::any_of(model.devices.begin(), model.devices.end(),
                       [&device](const auto& entry) {
                           const Device& other = entry.second;
                           return &other != &device &&
                                  other.iommuGroup == device.iommuGroup &&
                                  isVfioDriverName(other.driver);
                       });
}

int PciBus::allocateVfioDev() const
{
    // The kernel takes the lowest free index (ida_alloc).
    std::vector<bool> used;
    for (const auto& [address, device] : model.devices)
    {
        if (device.vfioDev >= 0)
        {
            size_t k = static_cast<size_t>(device.vfioDev);
            if (used.size() <= k)
            {
                used.resize(k + 1);
            }
            used[k] = true;
        }
    }
    auto free = std::find(used.begin(), used.end(), false);
    return static_cast<int>(free - used.begin());
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

void PciBus::emitPci(const char* action, const Device& device,
                     const std::string& driver)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "pci";
    event.sysname = device.address.str();
    event.devpath = devpathOf(device.address);
    event.driver = driver;
    // What pci_uevent adds to every PCI event.
    event.properties["PCI_CLASS"] = hexUpper(device.classCode, 1);
    event.properties["PCI_ID"] =
        hexUpper(device.vendor, 4) + ":" + hexUpper(device.device, 4);
    event.properties["PCI_SUBSYS_ID"] =
        hexUpper(device.subvendor, 4) + ":" + hexUpper(device.subdevice, 4);
    event.properties["PCI_SLOT_NAME"] = event.sysname;
    event.properties["MODALIAS"] = modalias(device);
    events.push_back(std::move(event));
}

void PciBus::emitVfioGroup(const char* action, int group)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "vfio";
    event.sysname = std::to_string(group);
    event.devpath = "/devices/virtual/vfio/" + event.sysname;
    event.properties["DEVNAME"] = "vfio/" + event.sysname;
    events.push_back(std::move(event));
}

void PciBus::emitVfioDev(const char* action, const Device& device)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "vfio-dev";
    event.sysname = "vfio" + std::to_string(device.vfioDev);
    event.devpath = devpathOf(device.address) + "/vfio-dev/" + event.sysname;
    event.properties["DEVNAME"] = "vfio/devices/" + event.sysname;
    events.push_back(std::move(event));
}

} // namespace vfiod::sim
