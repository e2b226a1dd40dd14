#pragma once

#include "sim/sim_sysfs.hpp"
#include "sim/sim_writes.hpp"

#include <string_view>

/**
 * @brief Writes to a device's own attributes: driver_override, reset,
 * reset_method, sriov_drivers_autoprobe, sriov_numvfs and remove, as
 * drivers/pci/pci-sysfs.c and iov.c store them (the sim_migration_*
 * attributes are sim_migration.hpp's).
 */
namespace vfiod::sim
{

/** @brief Applies one write of @p value to the device attribute @p entry. */
Step writeDevice(Tx& tx, const SysEntry& entry, std::string_view value);

/**
 * @brief pci_stop_and_remove_bus_device once asked for: waits for the
 * device lock, and for vfio's last close of the device or one of its VFs
 * (removal unbinds them). Both the remove attribute and a hot unplug.
 */
Step startRemoval(Tx& tx, Device& device);

} // namespace vfiod::sim
