#pragma once

#include "base/toml_reader.hpp"
#include "config/policy.hpp"

#include <functional>
#include <map>
#include <string>

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

/** @brief Each rule name read so far and "FILE:LINE" where it was first
 * defined, for the duplicate refusal. */
using RuleNames = std::map<std::string, std::string, std::less<>>;

/** @brief The index of the rules of @p policy. */
RuleNames ruleNames(const Policy& policy);

/**
 * @brief parsePolicyFile() with the names of the rules before it given:
 * loadPolicyDir keeps @p names from file to file, so that loading N files
 * costs O(R log R) for their R rules in all, rather than rebuilding the
 * index of every earlier rule for each file (O(N * R log R): 8,000 files
 * took seconds). @p names gains this file's rules once it is read whole.
 */
void appendFile(Policy& policy, std::string_view text,
                const std::string& sourceName, RuleNames& names);

} // namespace vfiod::policy_reader
