// PciBus's matching, probing and binding, module loading, the choice of
// reset method, and what the IOMMU groups allow of them. Devices coming and
// going are in sim_pci_hotplug.cpp, blocked operations completing in
// sim_pci_pending.cpp, the uevents in sim_pci_uevents.cpp.
#include "sim/sim_pci_bus.hpp"

#include <algorithm>
#include <cerrno>

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

} // namespace

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

} // namespace vfiod::sim
