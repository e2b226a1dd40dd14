#pragma once

#include "base/pci_address.hpp"
#include "sim/sim_writes.hpp"

#include <string>

/**
 * @brief What happens to the simulated host other than through sysfs: a
 * device plugged in or pulled out, a process (a VM) opening or closing one
 * through vfio. Each is one step of a SimKernel transaction and fails with
 * vfiod's Error, as it reaches the caller rather than a sysfs errno.
 */
namespace vfiod::sim
{

/** @brief A hot plug of the device @p deviceToml describes. */
void plugDevice(Tx& tx, const std::string& deviceToml);

/** @brief A surprise removal; waits like the remove attribute. */
Step unplugDevice(Tx& tx, const PciAddress& address);

/**
 * @brief A VFIO open by @p opener ("PID COMMAND"): refused unless bound
 * to vfio, idle and viable.
 */
void openThroughVfio(Tx& tx, const PciAddress& address,
                     const std::string& opener);

/**
 * @brief The matching close (of @p opener's open, or the latest one);
 * the last one lets waiting operations end.
 */
void closeThroughVfio(Tx& tx, const PciAddress& address,
                      const std::string& opener);

} // namespace vfiod::sim
