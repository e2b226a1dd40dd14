#pragma once

#include "sim/sim_sysfs.hpp"

#include <optional>
#include <string>
#include <string_view>

/**
 * @brief The building blocks of the simulated sysfs tree (sim_sysfs.hpp):
 * its directories' and entries' values, and the names that spell a device
 * or a number in it. Internal to the files that make up the tree.
 */
namespace vfiod::sim::tree
{

using At = SysDir::At;
using Type = SysEntry::Type;

SysDir dirAt(At at);
SysDir deviceDir(const PciAddress& address);

SysEntry dirEntry(SysDir dir);
SysEntry linkEntry(SysDir dir, std::string name);
SysEntry fileEntry(const SysDir& dir, std::string_view name, Type type,
                   bool writable);

/** @brief The canonical address a name spells, or nullopt. */
std::optional<PciAddress> addressNamed(std::string_view name);

/** @brief A non-negative decimal without leading zeros, or -1. */
int numberNamed(std::string_view name);

} // namespace vfiod::sim::tree
