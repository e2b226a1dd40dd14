#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

/**
 * @brief What every strict TOML reader of vfiod (vfiod.toml, policy.d)
 * needs to point a person at the exact spot of a mistake.
 */
namespace vfiod::toml_check
{

/**
 * @brief "FILE:LINE:COLUMN" of a source region; @p fallback names the
 * source when the region carries no path (text parsed from memory).
 */
std::string where(const toml::source_region& region,
                  std::string_view fallback);

/** @brief "a string", "an integer", ... for "expected X, found Y". */
std::string_view typeName(const toml::node& node);

} // namespace vfiod::toml_check
