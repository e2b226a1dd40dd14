#pragma once

#include "sim/sim_sysfs_entries.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The children of the simulated sysfs directories that depend on
 * the model, one pair of functions per kind of directory: what a name
 * leads to (nullopt: nothing) and the names there are. sim_sysfs.cpp
 * adds the children every host has and dispatches to these by kind.
 */
namespace vfiod::sim::tree
{

using ChildFn = std::optional<SysEntry> (*)(const Model& model,
                                            const SysDir& dir,
                                            std::string_view name);
/// Appends to @p names; the caller sorts.
using NamesFn = void (*)(const Model& model, const SysDir& dir,
                         std::vector<std::string>& names);

/** @brief A kind of directory's children that the model decides. */
struct DirContents
{
    ChildFn child;
    NamesFn names;
};

// PCI devices (sim_sysfs_device.cpp): bus/pci/devices, a device's own
// directory and its vfio-dev.
extern const DirContents devicesContents;
extern const DirContents deviceContents;
extern const DirContents vfioDevDirContents;

// Drivers and their modules (sim_sysfs_drivers.cpp).
extern const DirContents driversContents;
extern const DirContents driverContents;
extern const DirContents modulesContents;
extern const DirContents moduleContents;
extern const DirContents moduleDriversContents;

// IOMMU groups (sim_sysfs_groups.cpp).
extern const DirContents groupsContents;
extern const DirContents groupDevicesContents;

} // namespace vfiod::sim::tree
