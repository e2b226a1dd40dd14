#pragma once

#include "base/pci_address.hpp"

#include <optional>
#include <string>
#include <vector>

namespace vfiod
{

class KernelHost;

/**
 * @brief The devices of IOMMU group @p group, sorted.
 *
 * Derived from each device's iommu_group link rather than from
 * /sys/kernel/iommu_groups/N/devices, so that it also works on recorded
 * sysfs trees where the group directories are absent.
 */
std::vector<PciAddress> iommuGroupMembers(KernelHost& host, int group);

/** @brief A device that keeps a group from being viable. */
struct ViabilityBlocker
{
    PciAddress address;
    std::string driver;
};

/**
 * @brief The first member of @p group, other than @p except, bound to a
 * driver that makes the group non-viable for vfio.
 */
std::optional<ViabilityBlocker>
    findViabilityBlocker(KernelHost& host, int group,
                         const std::optional<PciAddress>& except);

/**
 * @brief Checks that @p address could be used through vfio as far as its
 * group goes: it has a group, and every other member is unbound or on a
 * driver_managed_dma driver.
 * @throws Error(Errc::NotViable) naming the blocking device and its driver,
 * Error(Errc::NotSupported) when the device has no IOMMU group.
 */
void requireViableGroup(KernelHost& host, const PciAddress& address, int group);

} // namespace vfiod
