#pragma once

#include "base/toml_reader.hpp"
#include "config/policy.hpp"

/**
 * @brief The parts of the policy file reader that config/policy.hpp's
 * parsePolicyFile puts together, one file each: the selectors
 * (policy_match.cpp), the actions (policy_actions.cpp), the rules of one
 * file (policy_file.cpp) and the directory (policy_dir.cpp).
 */
namespace vfiod::policy_reader
{

/**
 * @brief Reads [rule.match] into @p match, then checks the keys against
 * each other (class_mask needs class, all = true stands alone, ...).
 */
void readMatch(const toml_reader::Table& table, PolicyMatch& match);

/** @brief Reads [rule.actions] into @p actions. */
void readActions(const toml_reader::Table& table, PolicyActions& actions);

} // namespace vfiod::policy_reader
