#include "pci/iommu_group.hpp"

#include "base/error.hpp"
#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"
#include "kernel/sysfs_value.hpp"
#include "pci/pci_device.hpp"

#include <algorithm>

namespace vfiod
{

namespace
{

int groupOf(KernelHost& host, const PciAddress& address)
{
    std::optional<std::string> group =
        host.readLinkName(sysfs::deviceAttr(address, "iommu_group"));
    if (!group)
    {
        return -1;
    }
    return sysfs::parseInt(*group).value_or(-1);
}

std::string driverOf(KernelHost& host, const PciAddress& address)
{
    return host.readLinkName(sysfs::deviceAttr(address, "driver")).value_or("");
}

} // namespace

std::vector<PciAddress> iommuGroupMembers(KernelHost& host, int group)
{
    std::vector<PciAddress> members;
    if (group < 0)
    {
        return members;
    }
    // The kernel's own list costs one directory read, where the scan below
    // costs one link per device on the host: on a host with a thousand VFs,
    // the difference between a bind in microseconds and one in
    // milliseconds.
    std::string listed = sysfs::iommuGroupDevices(group);
    bool found = false;
    std::vector<std::string> names;
    host.readTogether([&] {
        found = host.exists(listed);
        if (found)
        {
            names = host.list(listed);
        }
    });
    if (found)
    {
        for (const std::string& name : names)
        {
            PciAddress address;
            if (PciAddress::tryParse(name, address))
            {
                members.push_back(address);
            }
        }
        std::sort(members.begin(), members.end());
        return members;
    }
    // Without /sys/kernel/iommu_groups (a recording of only the PCI tree),
    // the devices' own links tell. listPciDevices is sorted, so members
    // are too.
    for (const PciAddress& address : listPciDevices(host))
    {
        if (groupOf(host, address) == group)
        {
            members.push_back(address);
        }
    }
    return members;
}

std::optional<ViabilityBlocker>
    findViabilityBlocker(KernelHost& host, int group,
                         const std::optional<PciAddress>& except)
{
    std::optional<ViabilityBlocker> blocker;
    host.readTogether([&] {
        for (const PciAddress& member : iommuGroupMembers(host, group))
        {
            if (except && member == *except)
            {
                continue;
            }
            std::string driver = driverOf(host, member);
            if (!keepsGroupViable(driver))
            {
                blocker = ViabilityBlocker{member, driver};
                return;
            }
        }
    });
    return blocker;
}

void requireViableGroup(KernelHost& host, const PciAddress& address, int group)
{
    if (group < 0)
    {
        fail(Errc::NotSupported,
             "PCI device " + address.str() +
                 " has no IOMMU group: is the IOMMU enabled (intel_iommu=on "
                 "/ amd_iommu=on)?");
    }
    std::optional<ViabilityBlocker> blocker =
        findViabilityBlocker(host, group, address);
    if (blocker)
    {
        fail(Errc::NotViable,
             "IOMMU group " + std::to_string(group) + " is not viable: " +
                 blocker->address.str() + " is bound to " + blocker->driver +
                 " (a host driver); unbind it or bind it to vfio-pci too");
    }
}

} // namespace vfiod
