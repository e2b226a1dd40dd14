#pragma once

#include "kernel/kernel_host.hpp"
#include "pci/pci_device.hpp"

#include <string>
#include <vector>

namespace vfiod
{

/**
 * @brief The processes that hold @p device open through VFIO: its IOMMU
 * group's node (the group is single-open, so whoever has it has every
 * member) or the device's own cdev (/dev/vfio/devices/vfioN). A device
 * not on a vfio driver has none.
 */
std::vector<VfioHolder> holdersOf(KernelHost& host, const PciDevice& device);

/** @brief The same, from @p all, a host-wide KernelHost::vfioHolders(). */
std::vector<VfioHolder> holdersOf(KernelHost& host, const PciDevice& device,
                                  std::vector<VfioHolder> all);

/** @brief "1234 qemu-system-x86" each, as the Holders property shows them. */
std::vector<std::string> holderNames(const std::vector<VfioHolder>& holders);

/**
 * @brief For a refusal: "held open by pid 1234 (qemu-system-x86) through
 * /dev/vfio/7".
 */
std::string describeHolders(const std::vector<VfioHolder>& holders);

} // namespace vfiod
