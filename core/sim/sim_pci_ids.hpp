#pragma once

#include "sim/sim_model.hpp"

#include <optional>
#include <string>
#include <string_view>

/**
 * @brief The text forms of PCI id table entries: the host file's compact
 * spelling and the modules.alias patterns the kernel's file2alias makes.
 */
namespace vfiod::sim
{

/**
 * @brief Parses "VVVV:DDDD" or "VVVV:DDDD:SVSV:SDSD" (hex, ffff = any),
 * optionally followed by " class:CCCCCC/MMMMMM", or the class part alone.
 * @return std::nullopt when malformed.
 */
std::optional<IdMatch> parseIdSpec(std::string_view spec);

/**
 * @brief modules.alias text for every module of the host, loaded or not:
 * the aliases generated from each driver's id table the way file2alias
 * does ("vfio_pci:" for override-only tables), then the module's extra
 * aliases.
 */
std::string modulesAliasText(const Model& model);

} // namespace vfiod::sim
