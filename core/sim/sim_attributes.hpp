#pragma once

#include "sim/sim_sysfs.hpp"

#include <string>
#include <string_view>

/**
 * @brief The contents of the simulated sysfs attributes, formatted as the
 * kernel's show functions print them.
 */
namespace vfiod::sim
{

/// Not a kernel attribute: how many resets completed, for tests. Kept out
/// of listings so the directory looks like the kernel's.
inline constexpr std::string_view resetCountAttr = "sim_reset_count";

/** @brief What reading attribute @p name of @p dir gives. */
std::string attributeText(const Model& model, const SysDir& dir,
                          std::string_view name);

/** @brief The device's config space as the config attribute reads it. */
std::string configSpace(const Model& model, const Device& device);

} // namespace vfiod::sim
