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

// PCI devices (sim_sysfs_device.cpp): bus/pci/devices, a device's own
// directory and its vfio-dev.
std::optional<SysEntry> devicesChild(const Model&, const SysDir&,
                                     std::string_view);
void devicesNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> deviceChild(const Model&, const SysDir&,
                                    std::string_view);
void deviceNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> vfioDevDirChild(const Model&, const SysDir&,
                                        std::string_view);
void vfioDevDirNames(const Model&, const SysDir&, std::vector<std::string>&);

// Drivers and their modules (sim_sysfs_drivers.cpp).
std::optional<SysEntry> driversChild(const Model&, const SysDir&,
                                     std::string_view);
void driversNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> driverChild(const Model&, const SysDir&,
                                    std::string_view);
void driverNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> modulesChild(const Model&, const SysDir&,
                                     std::string_view);
void modulesNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> moduleChild(const Model&, const SysDir&,
                                    std::string_view);
void moduleNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> moduleDriversChild(const Model&, const SysDir&,
                                           std::string_view);
void moduleDriversNames(const Model&, const SysDir&, std::vector<std::string>&);

// IOMMU groups (sim_sysfs_groups.cpp).
std::optional<SysEntry> groupsChild(const Model&, const SysDir&,
                                    std::string_view);
void groupsNames(const Model&, const SysDir&, std::vector<std::string>&);
std::optional<SysEntry> groupDevicesChild(const Model&, const SysDir&,
                                          std::string_view);
void groupDevicesNames(const Model&, const SysDir&, std::vector<std::string>&);

} // namespace vfiod::sim::tree
