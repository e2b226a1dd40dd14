#include "base/error.hpp"
#include "config/policy_reader.hpp"
#include "kernel/sysfs_layout.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace vfiod::policy_reader
{

namespace
{

using toml_reader::IntRange;
using toml_reader::quoted;
using toml_reader::refuse;
using Key = const std::string&;

constexpr IntRange idRange{0, 0xffff, true};
constexpr IntRange classRange{0, 0xffffff, true};
/// virtfnN goes up to sriov_totalvfs, a 16-bit config register.
constexpr int64_t maxVfIndex = 0xffff;

/**
 * @brief A value that may be given alone or as a non-empty array of the
 * same kind; calls @p each for every element, so errors point at it.
 */
void forEachOneOrMany(Key key, const toml::node& node,
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
        refuse(node, quoted(key) + " must not be an empty array");
    }
    for (const toml::node& element : *array)
    {
        each(element);
    }
}

PciAddress requireAddress(Key key, const toml::node& node)
{
    const std::string& text = toml_reader::string(key, node);
    try
    {
        return PciAddress::parse(text);
    }
    catch (const Error& e)
    {
        refuse(node, quoted(key) + ": " + e.what());
    }
}

bool isSlotName(std::string_view text) noexcept
{
    bool printable = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
    });
    return !text.empty() && text.size() <= 64 && printable &&
           text.find('/') == std::string_view::npos;
}

constexpr toml_reader::NameRule slotName{
    "a slot name", "1 to 64 printable characters without /", isSlotName};

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
VfIndexRange requireVfRange(Key key, const toml::node& node)
{
    if (node.is_integer())
    {
        auto index = static_cast<unsigned>(
            toml_reader::integer(key, node, {0, maxVfIndex}));
        return {index, index};
    }
    const auto* value = node.as_string();
    if (value == nullptr)
    {
        refuse(node, quoted(key) +
                         " must be \"N-M\", an integer or an array of "
                         "integers, not " +
                         std::string(toml_reader::typeName(node)));
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
        refuse(node, quoted(key) + " = " + quoted(text) +
                         " is not a VF index range (\"N\" or \"N-M\", "
                         "0 to 65535)");
    }
    if (range.first > range.last)
    {
        refuse(node, quoted(key) + " = " + quoted(text) +
                         " is an empty range (first above last)");
    }
    return range;
}

std::string hexText(uint32_t value)
{
    char text[16];
    std::snprintf(text, sizeof text, "0x%x", value);
    return text;
}

/** @brief Reads [rule.match]; the cross-key checks come after all keys. */
class MatchReader
{
  public:
    explicit MatchReader(PolicyMatch& match) : match(match) {}

    void read(const toml_reader::Table& table)
    {
        table.read(handlers());
        check(table);
    }

  private:
    toml_reader::Table::Handler id(std::optional<uint16_t>& target)
    {
        return [this, &target](Key k, const toml::node& v) {
            target = static_cast<uint16_t>(toml_reader::integer(k, v, idRange));
            selected = true;
        };
    }

    /** @brief A handler for a one-or-many selector, via @p each. */
    toml_reader::Table::Handler
        many(std::function<void(Key, const toml::node&)> each)
    {
        return [this, each](Key k, const toml::node& v) {
            forEachOneOrMany(k, v, [&](const toml::node& e) { each(k, e); });
            selected = true;
        };
    }

    toml_reader::Table::Handlers handlers()
    {
        return {
            {"all",
             [this](Key k, const toml::node& v) {
                 match.all = toml_reader::boolean(k, v);
                 allNode = &v;
             }},
            {"vendor", id(match.vendor)},
            {"device", many([this](Key k, const toml::node& e) {
                 match.devices.push_back(static_cast<uint16_t>(
                     toml_reader::integer(k, e, idRange)));
             })},
            {"subsystem_vendor", id(match.subsystemVendor)},
            {"subsystem_device", id(match.subsystemDevice)},
            {"class",
             [this](Key k, const toml::node& v) {
                 match.classCode = static_cast<uint32_t>(
                     toml_reader::integer(k, v, classRange));
                 classNode = &v;
                 selected = true;
             }},
            {"class_mask",
             [this](Key k, const toml::node& v) {
                 match.classMask = static_cast<uint32_t>(
                     toml_reader::integer(k, v, classRange));
                 maskNode = &v;
             }},
            {"address", many([this](Key k, const toml::node& e) {
                 match.addresses.push_back(requireAddress(k, e));
             })},
            {"driver", many([this](Key k, const toml::node& e) {
                 match.drivers.push_back(
                     toml_reader::name(k, e, sysfs::driverNameRule));
             })},
            {"pf",
             [this](Key k, const toml::node& v) {
                 match.pf = requireAddress(k, v);
                 selected = true;
             }},
            {"vf_index",
             [this](Key k, const toml::node& v) {
                 forEachOneOrMany(k, v, [&](const toml::node& e) {
                     match.vfIndexes.push_back(requireVfRange(k, e));
                 });
                 vfIndexNode = &v;
             }},
            {"slot", many([this](Key k, const toml::node& e) {
                 match.slots.push_back(toml_reader::name(k, e, slotName));
             })},
        };
    }

    void check(const toml_reader::Table& table)
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
            refuse(table.source(), "empty match: give at least one selector, "
                                   "or all = true to match every device");
        }
    }

    PolicyMatch& match;
    bool selected = false;
    const toml::node* allNode = nullptr;
    const toml::node* classNode = nullptr;
    const toml::node* maskNode = nullptr;
    const toml::node* vfIndexNode = nullptr;
};

} // namespace

void readMatch(const toml_reader::Table& table, PolicyMatch& match)
{
    MatchReader(match).read(table);
}

} // namespace vfiod::policy_reader
