#include "base/error.hpp"
#include "config/policy.hpp"
#include "kernel/sysfs_layout.hpp"
#include "base/toml_check.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace vfiod
{

namespace
{

constexpr int64_t maxId = 0xffff;
constexpr int64_t maxClass = 0xffffff;
/// virtfnN goes up to sriov_totalvfs, a 16-bit config register.
constexpr int64_t maxVfIndex = 0xffff;
constexpr size_t maxRuleName = 64;
/// useradd's limit; longer names are truncated by utmp and friends.
constexpr size_t maxUnixName = 32;

constexpr std::array resetMethods = {
    "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus",
};

std::string where(const toml::source_region& region)
{
    return toml_check::where(region, "<policy>");
}

[[noreturn]] void refuse(const toml::node& node, const std::string& message)
{
    fail(Errc::InvalidArgument, where(node.source()) + ": " + message);
}

using toml_check::typeName;

std::string hexText(int64_t value)
{
    if (value < 0)
    {
        return std::to_string(value);
    }
    std::ostringstream text;
    text << "0x" << std::hex << value;
    return text.str();
}

/** @brief A key's name in messages: "match.vendor". */
class KeyName
{
  public:
    KeyName(std::string_view section, const toml::key& key) :
        text(section.empty()
                 ? std::string(key.str())
                 : std::string(section) + "." + std::string(key.str()))
    {}

    std::string quoted() const
    {
        return "\"" + text + "\"";
    }

  private:
    std::string text;
};

using KeyHandler = std::function<void(const toml::key&, const toml::node&)>;
using KeyHandlers = std::map<std::string, KeyHandler, std::less<>>;

/** Hands every key of a table to its handler; unknown keys are errors. */
void readTable(std::string_view section, const toml::node& node,
               const KeyHandlers& keys)
{
    const auto* table = node.as_table();
    if (table == nullptr)
    {
        refuse(node, "\"" + std::string(section) + "\" must be a table, not " +
                         std::string(typeName(node)));
    }
    for (auto&& [key, value] : *table)
    {
        auto handler = keys.find(key.str());
        if (handler == keys.end())
        {
            std::string known;
            for (const auto& [name, unused] : keys)
            {
                known += (known.empty() ? "" : ", ") + name;
            }
            fail(Errc::InvalidArgument, where(key.source()) + ": unknown key " +
                                            KeyName(section, key).quoted() +
                                            " (known: " + known + ")");
        }
        handler->second(key, value);
    }
}

const std::string& requireString(const KeyName& name, const toml::node& node)
{
    const auto* value = node.as_string();
    if (value == nullptr)
    {
        refuse(node, name.quoted() + " must be a string, not " +
                         std::string(typeName(node)));
    }
    return value->get();
}

bool requireBool(const KeyName& name, const toml::node& node)
{
    const auto* value = node.as_boolean();
    if (value == nullptr)
    {
        refuse(node, name.quoted() + " must be a boolean, not " +
                         std::string(typeName(node)));
    }
    return value->get();
}

int64_t requireInteger(const KeyName& name, const toml::node& node, int64_t max)
{
    const auto* value = node.as_integer();
    if (value == nullptr)
    {
        refuse(node, name.quoted() + " must be an integer, not " +
                         std::string(typeName(node)));
    }
    int64_t number = value->get();
    if (number < 0 || number > max)
    {
        refuse(node, name.quoted() + " = " + hexText(number) +
                         " is out of range (0 to " + hexText(max) + ")");
    }
    return number;
}

/**
 * @brief A value that may be given alone or as a non-empty array of the
 * same kind; calls @p each for every element, so errors point at it.
 */
void forEachOneOrMany(const KeyName& name, const toml::node& node,
                      const std::function<void(const toml::node&)>& each)
{
    const auto* array = node.as_array();
    if (array == nullptr)
    {
        each(node);
        return;
    }
    if (array->empty())
    {
        refuse(node, name.quoted() + " must not be an empty array");
    }
    for (const toml::node& element : *array)
    {
        each(element);
    }
}

PciAddress requireAddress(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    try
    {
        return PciAddress::parse(text);
    }
    catch (const Error& e)
    {
        refuse(node, name.quoted() + ": " + e.what());
    }
}

std::string requireDriverName(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    if (!sysfs::isValidDriverName(text))
    {
        refuse(node, "\"" + text + "\" in " + name.quoted() +
                         " is not a driver name (1 to 64 of A-Z a-z 0-9 _ -)");
    }
    return text;
}

std::string requireSlotName(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    bool printable = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
    });
    if (text.empty() || text.size() > 64 || !printable ||
        text.find('/') != std::string::npos)
    {
        refuse(node, "\"" + text + "\" in " + name.quoted() +
                         " is not a slot name (1 to 64 printable characters "
                         "without /)");
    }
    return text;
}

unsigned parseIndex(std::string_view text, bool& ok)
{
    ok = !text.empty() && text.size() <= 5 &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
    if (!ok)
    {
        return 0;
    }
    unsigned value = static_cast<unsigned>(std::stoul(std::string(text)));
    ok = value <= maxVfIndex;
    return value;
}

/** @brief One vf_index element: N, "N" or "N-M". */
VfIndexRange requireVfRange(const KeyName& name, const toml::node& node)
{
    if (node.is_integer())
    {
        auto index =
            static_cast<unsigned>(requireInteger(name, node, maxVfIndex));
        return {index, index};
    }
    const auto* value = node.as_string();
    if (value == nullptr)
    {
        refuse(node, name.quoted() +
                         " must be \"N-M\", an integer or an array of "
                         "integers, not " +
                         std::string(typeName(node)));
    }
    const std::string& text = value->get();
    size_t dash = text.find('-');
    bool firstOk = false;
    bool lastOk = false;
    VfIndexRange range;
    range.first = parseIndex(std::string_view(text).substr(0, dash), firstOk);
    range.last =
        dash == std::string::npos
            ? range.first
            : parseIndex(std::string_view(text).substr(dash + 1), lastOk);
    if (dash == std::string::npos)
    {
        lastOk = firstOk;
    }
    if (!firstOk || !lastOk)
    {
        refuse(node, name.quoted() + " = \"" + text +
                         "\" is not a VF index range (\"N\" or \"N-M\", "
                         "0 to 65535)");
    }
    if (range.first > range.last)
    {
        refuse(node, name.quoted() + " = \"" + text +
                         "\" is an empty range (first above last)");
    }
    return range;
}

/** @brief useradd's NAME_REGEX: [a-z_][a-z0-9_-]*[$]?, at most 32. */
bool isUnixName(std::string_view name)
{
    if (name.empty() || name.size() > maxUnixName)
    {
        return false;
    }
    if (name.back() == '$')
    {
        name.remove_suffix(1);
    }
    auto head = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
    auto tail = [&](char c) {
        return head(c) || (c >= '0' && c <= '9') || c == '-';
    };
    return !name.empty() && head(name.front()) &&
           std::all_of(name.begin() + 1, name.end(), tail);
}

std::vector<std::string> requireUnixNames(const KeyName& name,
                                          const toml::node& node)
{
    const auto* array = node.as_array();
    if (array == nullptr)
    {
        refuse(node, name.quoted() + " must be an array of names, not " +
                         std::string(typeName(node)));
    }
    std::vector<std::string> names;
    for (const toml::node& element : *array)
    {
        const std::string& text = requireString(name, element);
        if (!isUnixName(text))
        {
            refuse(element, "\"" + text + "\" in " + name.quoted() +
                                " is not a user or group name "
                                "([a-z_][a-z0-9_-]*, at most 32)");
        }
        names.push_back(text);
    }
    return names;
}

bool isRuleName(std::string_view name)
{
    return !name.empty() && name.size() <= maxRuleName &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                      c == '.';
           });
}

/** @brief Reads [rule.match]; the cross-key checks come after all keys. */
class MatchReader
{
  public:
    explicit MatchReader(PolicyMatch& match) : match(match) {}

    void read(const toml::node& node)
    {
        readTable("match", node, handlers());
        check(node);
    }

  private:
    KeyHandler id(std::optional<uint16_t>& target)
    {
        return [this, &target](const toml::key& k, const toml::node& v) {
            target = static_cast<uint16_t>(
                requireInteger(KeyName("match", k), v, maxId));
            selected = true;
        };
    }

    /** @brief A handler for a one-or-many selector, via @p each. */
    KeyHandler many(std::function<void(const KeyName&, const toml::node&)> each)
    {
        return [this, each](const toml::key& k, const toml::node& v) {
            KeyName name("match", k);
            forEachOneOrMany(name, v,
                             [&](const toml::node& e) { each(name, e); });
            selected = true;
        };
    }

    KeyHandlers handlers()
    {
        return {
            {"all",
             [this](const toml::key& k, const toml::node& v) {
                 match.all = requireBool(KeyName("match", k), v);
                 allNode = &v;
             }},
            {"vendor", id(match.vendor)},
            {"device", many([this](const KeyName& n, const toml::node& e) {
                 match.devices.push_back(
                     static_cast<uint16_t>(requireInteger(n, e, maxId)));
             })},
            {"subsystem_vendor", id(match.subsystemVendor)},
            {"subsystem_device", id(match.subsystemDevice)},
            {"class",
             [this](const toml::key& k, const toml::node& v) {
                 match.classCode = static_cast<uint32_t>(
                     requireInteger(KeyName("match", k), v, maxClass));
                 classNode = &v;
                 selected = true;
             }},
            {"class_mask",
             [this](const toml::key& k, const toml::node& v) {
                 match.classMask = static_cast<uint32_t>(
                     requireInteger(KeyName("match", k), v, maxClass));
                 maskNode = &v;
             }},
            {"address", many([this](const KeyName& n, const toml::node& e) {
                 match.addresses.push_back(requireAddress(n, e));
             })},
            {"driver", many([this](const KeyName& n, const toml::node& e) {
                 match.drivers.push_back(requireDriverName(n, e));
             })},
            {"pf",
             [this](const toml::key& k, const toml::node& v) {
                 match.pf = requireAddress(KeyName("match", k), v);
                 selected = true;
             }},
            {"vf_index",
             [this](const toml::key& k, const toml::node& v) {
                 KeyName name("match", k);
                 forEachOneOrMany(name, v, [&](const toml::node& e) {
                     match.vfIndexes.push_back(requireVfRange(name, e));
                 });
                 vfIndexNode = &v;
             }},
            {"slot", many([this](const KeyName& n, const toml::node& e) {
                 match.slots.push_back(requireSlotName(n, e));
             })},
        };
    }

    void check(const toml::node& table)
    {
        if (maskNode != nullptr && !match.classCode)
        {
            refuse(*maskNode, "\"match.class_mask\" needs \"match.class\"");
        }
        if (maskNode != nullptr && match.classMask == 0)
        {
            refuse(*maskNode, "\"match.class_mask\" = 0 would match every "
                              "class; leave out \"match.class\" instead");
        }
        if (match.classCode && (*match.classCode & ~match.classMask) != 0)
        {
            refuse(*classNode,
                   "\"match.class\" = " + hexText(*match.classCode) +
                       " has bits outside \"match.class_mask\" = " +
                       hexText(match.classMask) + ", so it can never match");
        }
        if (vfIndexNode != nullptr && !match.pf)
        {
            refuse(*vfIndexNode, "\"match.vf_index\" needs \"match.pf\"");
        }
        if (match.all && selected)
        {
            refuse(*allNode, "\"match.all\" = true cannot be combined with "
                             "other selectors");
        }
        if (!match.all && !selected)
        {
            refuse(table, "empty match: give at least one selector, or "
                          "all = true to match every device");
        }
    }

    PolicyMatch& match;
    bool selected = false;
    const toml::node* allNode = nullptr;
    const toml::node* classNode = nullptr;
    const toml::node* maskNode = nullptr;
    const toml::node* vfIndexNode = nullptr;
};

std::string requireBind(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    if (text == "vfio-pci" || text == "auto" ||
        (text.ends_with("_vfio_pci") && sysfs::isValidDriverName(text)))
    {
        return text;
    }
    refuse(node, name.quoted() +
                     " must be \"vfio-pci\", \"auto\" or a vfio-pci variant "
                     "driver (NAME_vfio_pci), not \"" +
                     text + "\"");
}

std::string requireResetMethod(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    std::string known;
    for (const char* method : resetMethods)
    {
        if (text == method)
        {
            return text;
        }
        known += (known.empty() ? "" : ", ") + std::string(method);
    }
    refuse(node, name.quoted() + " must be one of " + known + ", not \"" +
                     text + "\"");
}

OnRelease requireOnRelease(const KeyName& name, const toml::node& node)
{
    const std::string& text = requireString(name, node);
    for (OnRelease value : {OnRelease::Vfio, OnRelease::Host})
    {
        if (text == onReleaseName(value))
        {
            return value;
        }
    }
    refuse(node, name.quoted() + " must be \"host\" or \"vfio\", not \"" +
                     text + "\"");
}

void readActions(const toml::node& node, PolicyActions& actions)
{
    auto name = [](const toml::key& k) { return KeyName("actions", k); };
    readTable("actions", node,
              {
                  {"bind",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.bind = requireBind(name(k), v);
                   }},
                  {"reset_method",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.resetMethod = requireResetMethod(name(k), v);
                   }},
                  {"plugin",
                   [&](const toml::key& k, const toml::node& v) {
                       // Plugin names become file names: same rules as drivers.
                       actions.plugin = requireDriverName(name(k), v);
                   }},
                  {"users",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.users = requireUnixNames(name(k), v);
                   }},
                  {"groups",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.groups = requireUnixNames(name(k), v);
                   }},
                  {"on_release",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.onRelease = requireOnRelease(name(k), v);
                   }},
                  {"reset_on_release",
                   [&](const toml::key& k, const toml::node& v) {
                       actions.resetOnRelease = requireBool(name(k), v);
                   }},
              });
}

/** @brief Where each rule name was first defined, for duplicates. */
using SeenNames = std::map<std::string, std::string, std::less<>>;

PolicyRule readRule(const toml::node& node, const std::string& sourceName,
                    SeenNames& seen)
{
    PolicyRule rule;
    rule.file = sourceName;
    rule.line = static_cast<int>(node.source().begin.line);
    bool hasMatch = false;
    readTable("rule", node,
              {
                  {"name",
                   [&](const toml::key& k, const toml::node& v) {
                       rule.name = requireString(KeyName("rule", k), v);
                       if (!isRuleName(rule.name))
                       {
                           refuse(v, "\"" + rule.name +
                                         "\" is not a rule name (1 to 64 of "
                                         "A-Z a-z 0-9 _ - .)");
                       }
                       auto first = seen.find(rule.name);
                       if (first != seen.end())
                       {
                           refuse(v, "duplicate rule name \"" + rule.name +
                                         "\", first defined at " +
                                         first->second);
                       }
                   }},
                  {"match",
                   [&](const toml::key&, const toml::node& v) {
                       MatchReader(rule.match).read(v);
                       hasMatch = true;
                   }},
                  {"actions",
                   [&](const toml::key&, const toml::node& v) {
                       readActions(v, rule.actions);
                   }},
              });
    if (rule.name.empty())
    {
        refuse(node, "rule without \"name\"");
    }
    if (!hasMatch)
    {
        refuse(node, "rule \"" + rule.name +
                         "\" has no [rule.match]; use all = true there to "
                         "match every device");
    }
    seen.emplace(rule.name, rule.file + ":" + std::to_string(rule.line));
    return rule;
}

std::vector<PolicyRule> readRules(const toml::node& node,
                                  const std::string& sourceName,
                                  SeenNames& seen)
{
    const auto* array = node.as_array();
    if (array == nullptr)
    {
        refuse(node, "\"rule\" must be an array of tables ([[rule]]), not " +
                         std::string(typeName(node)));
    }
    std::vector<PolicyRule> rules;
    for (const toml::node& element : *array)
    {
        rules.push_back(readRule(element, sourceName, seen));
    }
    return rules;
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        fail(Errc::InvalidArgument,
             path + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
    {
        fail(Errc::InvalidArgument, path + ": read error");
    }
    return text.str();
}

/** @brief The names in @p dir that are policy files, in byte order. */
std::vector<std::string> policyFileNames(const std::filesystem::path& dir)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec)
    {
        fail(Errc::InvalidArgument,
             dir.string() + ": cannot read directory: " + ec.message());
    }
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : it)
    {
        std::string name = entry.path().filename().string();
        if (name.starts_with('.') || !name.ends_with(".toml"))
        {
            continue;
        }
        // status() follows symlinks: a link to /dev/null masks a file of
        // the same name, as in systemd's drop-in directories.
        std::error_code statusError;
        if (fs::is_regular_file(entry.status(statusError)))
        {
            names.push_back(name);
        }
    }
    // std::string compares as unsigned char: plain byte order, no locale.
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

void parsePolicyFile(Policy& policy, std::string_view text,
                     const std::string& sourceName)
{
    toml::table root;
    try
    {
        root = toml::parse(text, sourceName);
    }
    catch (const toml::parse_error& e)
    {
        fail(Errc::InvalidArgument,
             where(e.source()) + ": " + std::string(e.description()));
    }

    SeenNames seen;
    for (const PolicyRule& rule : policy.rules)
    {
        seen.emplace(rule.name, rule.file + ":" + std::to_string(rule.line));
    }
    std::vector<PolicyRule> rules;
    readTable("", root,
              {
                  {"rule",
                   [&](const toml::key&, const toml::node& v) {
                       rules = readRules(v, sourceName, seen);
                   }},
              });

    policy.rules.insert(policy.rules.end(),
                        std::make_move_iterator(rules.begin()),
                        std::make_move_iterator(rules.end()));
    policy.files.push_back(sourceName);
}

Policy loadPolicyDir(const std::string& dir)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::file_status status = fs::status(dir, ec);
    Policy policy;
    if (status.type() == fs::file_type::not_found)
    {
        return policy;
    }
    if (ec)
    {
        fail(Errc::InvalidArgument, dir + ": " + ec.message());
    }
    if (!fs::is_directory(status))
    {
        fail(Errc::InvalidArgument, dir + ": not a directory");
    }
    for (const std::string& name : policyFileNames(dir))
    {
        std::string path = (fs::path(dir) / name).string();
        parsePolicyFile(policy, readFile(path), path);
    }
    return policy;
}

} // namespace vfiod
