#include "config/policy_reader.hpp"

#include <algorithm>
#include <map>

namespace vfiod
{

namespace
{

using toml_reader::refuse;
using toml_reader::Table;

constexpr size_t maxRuleName = 64;

bool isRuleName(std::string_view name) noexcept
{
    return !name.empty() && name.size() <= maxRuleName &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                      c == '.';
           });
}

using policy_reader::RuleNames;

PolicyRule readRule(const Table& table, const std::string& sourceName,
                    const RuleNames& before, RuleNames& seen)
{
    PolicyRule rule;
    rule.file = sourceName;
    rule.line = static_cast<int>(table.source().begin.line);
    bool hasMatch = false;
    table.read({
        {"name",
         [&](const std::string& k, const toml::node& v) {
             rule.name = toml_reader::string(k, v);
             if (!isRuleName(rule.name))
             {
                 refuse(v, toml_reader::quoted(rule.name) +
                               " is not a rule name (1 to 64 of A-Z a-z "
                               "0-9 _ - .)");
             }
             const RuleNames* const indexes[] = {&before, &seen};
             for (const RuleNames* names : indexes)
             {
                 auto first = names->find(rule.name);
                 if (first != names->end())
                 {
                     refuse(v, "duplicate rule name \"" + rule.name +
                                   "\", first defined at " + first->second);
                 }
             }
         }},
        {"match",
         [&](const std::string&, const toml::node& v) {
             policy_reader::readMatch(Table("match", v), rule.match);
             hasMatch = true;
         }},
        {"actions",
         [&](const std::string&, const toml::node& v) {
             policy_reader::readActions(Table("actions", v), rule.actions);
         }},
    });
    if (rule.name.empty())
    {
        refuse(table.source(), "rule without \"name\"");
    }
    if (!hasMatch)
    {
        refuse(table.source(), "rule \"" + rule.name +
                                   "\" has no [rule.match]; use all = true "
                                   "there to match every device");
    }
    seen.emplace(rule.name, rule.file + ":" + std::to_string(rule.line));
    return rule;
}

} // namespace

void policy_reader::appendFile(Policy& policy, std::string_view text,
                               const std::string& sourceName, RuleNames& names)
{
    toml::table root = toml_reader::parse(text, sourceName);

    // The names of this file apart, merged only once the whole file is
    // read: a refused file leaves @p names as it leaves @p policy.
    RuleNames seen;
    std::vector<PolicyRule> rules;
    Table top("", root);
    top.only({"rule"});
    for (const Table& table : top.tables("rule"))
    {
        rules.push_back(readRule(table, sourceName, names, seen));
    }

    names.merge(seen);
    policy.rules.insert(policy.rules.end(),
                        std::make_move_iterator(rules.begin()),
                        std::make_move_iterator(rules.end()));
    policy.files.push_back(sourceName);
}

policy_reader::RuleNames policy_reader::ruleNames(const Policy& policy)
{
    RuleNames names;
    for (const PolicyRule& rule : policy.rules)
    {
        names.emplace(rule.name, rule.file + ":" + std::to_string(rule.line));
    }
    return names;
}

void parsePolicyFile(Policy& policy, std::string_view text,
                     const std::string& sourceName)
{
    // One file on its own: the index of the rules before it is built
    // here; loadPolicyDir keeps one index for all its files instead.
    policy_reader::RuleNames names = policy_reader::ruleNames(policy);
    policy_reader::appendFile(policy, text, sourceName, names);
}

} // namespace vfiod
