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
/** @brief A driver's or a module's directory. */
SysDir namedDir(At at, std::string_view name);
/** @brief An IOMMU group's directory. */
SysDir numberedDir(At at, int number);

SysEntry dirEntry(SysDir dir);
SysEntry linkEntry(SysDir dir, std::string name);
SysEntry fileEntry(const SysDir& dir, std::string_view name, Type type,
                   bool writable);

/** @brief The canonical address a name spells, or nullopt. */
std::optional<PciAddress> addressNamed(std::string_view name);

/** @brief A non-negative decimal without leading zeros, or -1. */
int numberNamed(std::string_view name);

/**
 * @brief The link named after a device, to its directory: there when
 * @p name spells the address of a device of the model that @p belongs.
 */
template <typename Belongs>
std::optional<SysEntry> deviceLinkNamed(const Model& model,
                                        std::string_view name, Belongs belongs)
{
    std::optional<PciAddress> address = addressNamed(name);
    const Device* d = address ? findDevice(model, *address) : nullptr;
    if (d != nullptr && belongs(*d))
    {
        return linkEntry(deviceDir(*address), std::string(name));
    }
    return std::nullopt;
}

} // namespace vfiod::sim::tree
