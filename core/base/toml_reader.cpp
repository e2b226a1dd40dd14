#include "base/toml_reader.hpp"

#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/text_escape.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace vfiod::toml_reader
{

namespace
{

/// useradd's limit; longer names are truncated by utmp and friends.
/// NSS names from a directory (sssd's "user@example.com") outgrow useradd's
/// 32; systemd's relaxed check allows 256 as well.
constexpr size_t maxUserName = 256;

std::string numberText(int64_t value, bool hex)
{
    if (!hex || value <= 0)
    {
        return std::to_string(value);
    }
    std::ostringstream text;
    text << "0x" << std::hex << value;
    return text.str();
}

[[noreturn]] void refuseType(std::string_view key, const toml::node& node,
                             std::string_view expected)
{
    refuse(node, quoted(key) + " must be " + std::string(expected) + ", not " +
                     std::string(typeName(node)));
}

std::string joined(std::span<const std::string_view> words)
{
    std::string text;
    for (std::string_view word : words)
    {
        text += (text.empty() ? "" : ", ") + std::string(word);
    }
    return text;
}

using Entry = std::pair<const toml::key*, const toml::node*>;

/**
 * @brief The keys of @p table as the file has them: toml++ keeps a table
 * sorted by key, but the first mistake reported should be the first one a
 * person reading the file meets.
 */
std::vector<Entry> inDocumentOrder(const toml::table& table)
{
    std::vector<Entry> entries;
    for (auto&& [key, value] : table)
    {
        entries.emplace_back(&key, &value);
    }
    std::stable_sort(
        entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
            const toml::source_position& x = a.first->source().begin;
            const toml::source_position& y = b.first->source().begin;
            return std::pair(x.line, x.column) < std::pair(y.line, y.column);
        });
    return entries;
}

/** @brief What a file that is not a regular file is, for the refusal. */
std::string_view fileTypeName(mode_t mode) noexcept
{
    switch (mode & S_IFMT)
    {
        case S_IFIFO:
            return "FIFO";
        case S_IFCHR:
            return "character device";
        case S_IFBLK:
            return "block device";
        case S_IFSOCK:
            return "socket";
        case S_IFDIR:
            return "directory";
        default:
            return "unknown type";
    }
}

} // namespace

toml::table parse(std::string_view text, const std::string& sourceName)
{
    try
    {
        return toml::parse(text, std::string_view(sourceName));
    }
    catch (const toml::parse_error& e)
    {
        // toml++ quotes what it saw, which may be any byte of the file.
        refuse(e.source(), text::escaped(e.description(), 256));
    }
}

std::string readFile(const std::string& path, std::string_view what)
{
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
    // writer, and hang the start-up; fstat() then refuses it anyway.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
    {
        int err = errno;
        if (err == ENOENT)
        {
            fail(Errc::NotFound, path + ": no such " + std::string(what));
        }
        fail(Errc::InvalidArgument,
             path + ": cannot read: " + std::strerror(err));
    }
    struct stat st = {};
    if (::fstat(fd.get(), &st) != 0)
    {
        fail(Errc::InvalidArgument,
             path + ": cannot read: " + std::strerror(errno));
    }
    // Checked on the open descriptor, not the name, so that the file read
    // is the file checked; a symlink is followed to what it names.
    if (S_ISDIR(st.st_mode))
    {
        fail(Errc::InvalidArgument, path + ": is a directory");
    }
    if (!S_ISREG(st.st_mode))
    {
        // A character device such as /dev/zero never ends, a FIFO or a
        // socket blocks: only a regular file has an end to read to.
        fail(Errc::InvalidArgument, path + ": not a regular file (" +
                                        std::string(fileTypeName(st.st_mode)) +
                                        ")");
    }
    if (st.st_size > static_cast<off_t>(maxFileSize))
    {
        fail(Errc::InvalidArgument,
             path + ": too large (" + std::to_string(st.st_size) +
                 " bytes, at most " + std::to_string(maxFileSize) + ")");
    }
    // The size may change between fstat() and read(): the bound is kept
    // while reading too, one byte past it tells a file that grew.
    std::string text;
    char buffer[65536];
    while (true)
    {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n < 0)
        {
            fail(Errc::InvalidArgument,
                 path + ": read error: " + std::strerror(errno));
        }
        if (n == 0)
        {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > maxFileSize)
        {
            fail(Errc::InvalidArgument, path + ": too large (more than " +
                                            std::to_string(maxFileSize) +
                                            " bytes)");
        }
    }
}

std::string where(const toml::source_region& region)
{
    // Text parsed without a name has no path; parse() always gives one.
    std::string file = region.path ? *region.path : std::string("<toml>");
    return file + ":" + std::to_string(region.begin.line) + ":" +
           std::to_string(region.begin.column);
}

void refuse(const toml::source_region& region, const std::string& message)
{
    // Messages quote names and values of the file; those quoted without
    // quoted() must not break the log line either.
    fail(Errc::InvalidArgument,
         where(region) + ": " + text::escaped(message, 512));
}

void refuse(const toml::node& node, const std::string& message)
{
    refuse(node.source(), message);
}

std::string_view typeName(const toml::node& node)
{
    switch (node.type())
    {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date or time";
    }
}

std::string quoted(std::string_view text)
{
    // Keys and values come from the file: escaped and capped, so that a
    // refusal stays one readable line in the log and in the bus reply.
    return text::quotedArgument(text);
}

bool isUserName(std::string_view name) noexcept
{
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (name.empty() || name.size() > maxUserName)
    {
        return false;
    }
    if (std::all_of(name.begin(), name.end(), digit))
    {
        return true;
    }
    // Local accounts follow useradd, but names from a directory do not
    // (sssd's "alice@example.com", winbind's "EXAMPLE\alice", non-ASCII
    // names): what getpwnam(3) may resolve is refused only where it cannot
    // be a name at all, as systemd's relaxed rule does: a separator of the
    // passwd and group files (':' ','), a path ('/'), white space or a
    // control character, a leading '-' (an option), "." and "..".
    auto allowed = [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte > ' ' && byte != 0x7f && c != ':' && c != ',' && c != '/';
    };
    return name.front() != '-' && name != "." && name != ".." &&
           std::all_of(name.begin(), name.end(), allowed);
}

const NameRule userName{
    "a user or group name",
    "no white space, control characters, : , or /, not starting with -, "
    "at most 256 bytes",
    isUserName,
};

const std::string& string(std::string_view key, const toml::node& node)
{
    const auto* value = node.as_string();
    if (value == nullptr)
    {
        refuseType(key, node, "a string");
    }
    return value->get();
}

int64_t integer(std::string_view key, const toml::node& node, IntRange range)
{
    const auto* value = node.as_integer();
    if (value == nullptr)
    {
        refuseType(key, node, "an integer");
    }
    int64_t number = value->get();
    if (number < range.min || number > range.max)
    {
        refuse(node, quoted(key) + " = " + numberText(number, range.hex) +
                         " is out of range (" +
                         numberText(range.min, range.hex) + " to " +
                         numberText(range.max, range.hex) + ")");
    }
    return number;
}

bool boolean(std::string_view key, const toml::node& node)
{
    const auto* value = node.as_boolean();
    if (value == nullptr)
    {
        refuseType(key, node, "a boolean");
    }
    return value->get();
}

std::chrono::milliseconds milliseconds(std::string_view key,
                                       const toml::node& node, int64_t minMs,
                                       int64_t maxMs)
{
    const auto* value = node.as_integer();
    if (value == nullptr)
    {
        refuseType(key, node, "an integer number of milliseconds");
    }
    int64_t ms = value->get();
    if (ms < minMs || ms > maxMs)
    {
        refuse(node, quoted(key) + " = " + std::to_string(ms) +
                         " is out of range (" + std::to_string(minMs) + " to " +
                         std::to_string(maxMs) + " ms)");
    }
    return std::chrono::milliseconds(ms);
}

std::string name(std::string_view key, const toml::node& node,
                 const NameRule& rule)
{
    const std::string& text = string(key, node);
    if (!rule.valid(text))
    {
        refuse(node, quoted(text) + " in " + quoted(key) + " is not " +
                         std::string(rule.noun) + " (" +
                         std::string(rule.syntax) + ")");
    }
    return text;
}

std::string oneOf(std::string_view key, const toml::node& node,
                  std::span<const std::string_view> choices)
{
    const std::string& text = string(key, node);
    if (std::find(choices.begin(), choices.end(), text) == choices.end())
    {
        refuse(node, quoted(key) + " must be one of " + joined(choices) +
                         ", not " + quoted(text));
    }
    return text;
}

const toml::array& array(std::string_view key, const toml::node& node,
                         std::string_view of)
{
    const auto* value = node.as_array();
    if (value == nullptr)
    {
        refuseType(key, node, "an array of " + std::string(of));
    }
    return *value;
}

std::vector<std::string> strings(std::string_view key, const toml::node& node)
{
    std::vector<std::string> out;
    for (const toml::node& element : array(key, node, "strings"))
    {
        out.push_back(string(key, element));
    }
    return out;
}

std::vector<std::string> names(std::string_view key, const toml::node& node,
                               const NameRule& rule)
{
    std::vector<std::string> out;
    for (const toml::node& element : array(key, node, "names"))
    {
        out.push_back(name(key, element, rule));
    }
    return out;
}

Table::Table(std::string name, const toml::node& node) :
    tableName(std::move(name)), tableNode(node.as_table())
{
    if (tableNode == nullptr)
    {
        refuseType(tableName, node, "a table");
    }
}

std::string Table::key(std::string_view key) const
{
    return tableName.empty() ? std::string(key)
                             : tableName + "." + std::string(key);
}

void Table::read(const Handlers& handlers) const
{
    for (const auto& [k, value] : inDocumentOrder(*tableNode))
    {
        auto handler = handlers.find(k->str());
        if (handler == handlers.end())
        {
            std::vector<std::string_view> known;
            for (const auto& [name, unused] : handlers)
            {
                known.push_back(name);
            }
            refuse(k->source(), "unknown key " + quoted(key(k->str())) +
                                    " (known: " + joined(known) + ")");
        }
        handler->second(key(k->str()), *value);
    }
}

void Table::only(std::initializer_list<std::string_view> keys) const
{
    for (const auto& [k, value] : inDocumentOrder(*tableNode))
    {
        if (std::find(keys.begin(), keys.end(), k->str()) == keys.end())
        {
            std::vector<std::string_view> known(keys);
            std::sort(known.begin(), known.end());
            refuse(k->source(), "unknown key " + quoted(key(k->str())) +
                                    " (known: " + joined(known) + ")");
        }
    }
}

const toml::node* Table::find(std::string_view key) const
{
    return tableNode->get(key);
}

const toml::node& Table::need(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        refuse(source(), "missing required key " + quoted(key(k)));
    }
    return *node;
}

std::optional<std::string> Table::string(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return toml_reader::string(key(k), *node);
}

std::optional<int64_t> Table::integer(std::string_view k, IntRange range) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return toml_reader::integer(key(k), *node, range);
}

std::optional<bool> Table::boolean(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return toml_reader::boolean(key(k), *node);
}

std::optional<std::chrono::milliseconds>
    Table::milliseconds(std::string_view k, int64_t minMs, int64_t maxMs) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return toml_reader::milliseconds(key(k), *node, minMs, maxMs);
}

std::optional<std::string>
    Table::oneOf(std::string_view k,
                 std::span<const std::string_view> choices) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return toml_reader::oneOf(key(k), *node, choices);
}

std::vector<std::string> Table::strings(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return {};
    }
    return toml_reader::strings(key(k), *node);
}

std::vector<std::string> Table::names(std::string_view k,
                                      const NameRule& rule) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return {};
    }
    return toml_reader::names(key(k), *node, rule);
}

std::optional<Table> Table::table(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    return Table(std::string(k), *node);
}

std::vector<Table> Table::tables(std::string_view k) const
{
    const toml::node* node = find(k);
    if (node == nullptr)
    {
        return {};
    }
    std::string of = "tables ([[" + std::string(k) + "]])";
    std::vector<Table> out;
    for (const toml::node& element : array(key(k), *node, of))
    {
        out.emplace_back(std::string(k), element);
    }
    return out;
}

} // namespace vfiod::toml_reader
