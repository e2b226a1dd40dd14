#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The one strict TOML reader of vfiod: vfiod.toml, policy.d and the
 * simulated host file all go through it, so they refuse the same mistakes
 * with the same words.
 *
 * Strict means a typo cannot fall back to a default: unknown keys, wrong
 * types and out-of-range values are refused, never ignored. Every refusal
 * is Error(Errc::InvalidArgument, "FILE:LINE:COLUMN: what is wrong"),
 * pointing at the key or the value at fault. A value is named in messages
 * by its key qualified with its table ("match.vendor"); a table is named by
 * its own key ("match", not "rule.match"), the root by "".
 *
 * The messages read:
 *   "K" must be an integer, not a string
 *   "K" = 0x10000 is out of range (0 to 0xffff)
 *   "K" must be one of a, b, c, not "d"
 *   "TEXT" in "K" is not a user or group name (SYNTAX)
 *   unknown key "K" (known: a, b, c)
 *   missing required key "K"
 */
namespace vfiod::toml_reader
{

/**
 * @brief Parses TOML text; a syntax error is refused like any mistake.
 * @param sourceName names the text in messages (usually its path).
 */
toml::table parse(std::string_view text, const std::string& sourceName);

/**
 * @brief The most readFile() reads: 1 MiB. The largest file vfiod reads
 * this way, a policy.d file with hundreds of rules or a simulated host of
 * hundreds of devices, is tens of kilobytes; the bound is what keeps a
 * file that never ends (a link to /dev/zero) or a mistaken one (a disk
 * image) from growing the daemon without limit.
 */
inline constexpr size_t maxFileSize = size_t{1} << 20;

/**
 * @brief The whole contents of a file, to hand to parse().
 *
 * Opened without blocking, so that a FIFO cannot hang the caller, and
 * checked on the open descriptor before a byte is read: only a regular
 * file (a symlink is followed) of at most maxFileSize bytes is read.
 * @param what names the file in the not-found message ("policy file").
 * @throws Error(Errc::NotFound) "PATH: no such WHAT" when it does not
 *         exist; Error(Errc::InvalidArgument) "PATH: is a directory",
 *         "PATH: not a regular file (FIFO)" (or "character device", ...),
 *         "PATH: too large (N bytes, at most 1048576)", or when it cannot
 *         be read.
 */
std::string readFile(const std::string& path, std::string_view what);

/** @brief "FILE:LINE:COLUMN" of a source region. */
std::string where(const toml::source_region& region);

/** @brief Throws Error(InvalidArgument, "FILE:LINE:COLUMN: message"). */
[[noreturn]] void refuse(const toml::source_region& region,
                         const std::string& message);

/** @brief refuse() at the value @p node. */
[[noreturn]] void refuse(const toml::node& node, const std::string& message);

/** @brief "a string", "an integer", ... for "must be X, not Y". */
std::string_view typeName(const toml::node& node);

/** @brief "\"text\"", the way messages quote keys and values: escaped
 *  and capped as text::quotedArgument does, since they come from the file. */
std::string quoted(std::string_view text);

/** @brief Which integers a key accepts, and how messages show them. */
struct IntRange
{
    int64_t min;
    int64_t max;
    /// Ids, classes and masks read better as 0x...; zero and negative
    /// values are shown in decimal either way.
    bool hex = false;
};

/** @brief A syntax a string value must follow, such as a user name. */
struct NameRule
{
    std::string_view noun;   ///< "a user or group name"
    std::string_view syntax; ///< "1 to 64 of A-Z a-z 0-9 _ -"
    bool (*valid)(std::string_view text) noexcept;
};

/**
 * @brief A user or group name: anything NSS may resolve, local (useradd's
 * names, Samba's "svc$") or from a directory ("alice@example.com",
 * "EXAMPLE\alice"), so at most 256 bytes without white space, control
 * characters, ':' ',' '/', not starting with '-', not "." or "..". Digits
 * alone stand for the uid of a caller without an account (see [access] in
 * vfiod.toml(5)).
 */
bool isUserName(std::string_view name) noexcept;

/** @brief isUserName() as a rule: the users and groups of a policy rule and
 * of vfiod.toml's [access]. */
extern const NameRule userName;

/** @name Values
 * @p key is the value's name in messages ("match.vendor"); an element of
 * an array is named by its array.
 * @{
 */
const std::string& string(std::string_view key, const toml::node& node);
int64_t integer(std::string_view key, const toml::node& node, IntRange range);
bool boolean(std::string_view key, const toml::node& node);
/** @brief An integer number of milliseconds in [@p minMs, @p maxMs]. */
std::chrono::milliseconds milliseconds(std::string_view key,
                                       const toml::node& node, int64_t minMs,
                                       int64_t maxMs);
/** @brief A string that follows @p rule. */
std::string name(std::string_view key, const toml::node& node,
                 const NameRule& rule);
/** @brief A string that is one of @p choices. */
std::string oneOf(std::string_view key, const toml::node& node,
                  std::span<const std::string_view> choices);
/** @brief An array; @p of names its elements in the message ("strings"). */
const toml::array& array(std::string_view key, const toml::node& node,
                         std::string_view of);
std::vector<std::string> strings(std::string_view key, const toml::node& node);
/** @brief An array of strings that each follow @p rule. */
std::vector<std::string> names(std::string_view key, const toml::node& node,
                               const NameRule& rule);
/** @} */

/**
 * @brief A table of a document, read strictly: either every key through a
 * handler (read()), or the keys checked at once (only()) and then fetched.
 *
 * A Table refers to the document it was made from, which must outlive it.
 */
class Table
{
  public:
    /**
     * @param name the table in messages: its key, "" for the root.
     * @throws Error when @p node is not a table.
     */
    Table(std::string name, const toml::node& node);

    /** @brief Called with a key's qualified name and its value. */
    using Handler =
        std::function<void(const std::string& key, const toml::node& value)>;
    using Handlers = std::map<std::string, Handler, std::less<>>;

    /**
     * @brief Hands every key, in document order, to its handler.
     * @throws Error at the first key without one.
     */
    void read(const Handlers& handlers) const;

    /** @brief Refuses the first key, in document order, not in @p keys. */
    void only(std::initializer_list<std::string_view> keys) const;

    /** @brief "name.key", or "key" in the root. */
    std::string key(std::string_view key) const;

    const std::string& name() const noexcept
    {
        return tableName;
    }
    const toml::table& toml() const noexcept
    {
        return *tableNode;
    }
    const toml::source_region& source() const noexcept
    {
        return tableNode->source();
    }

    /** @brief The value of @p key, nullptr when absent. */
    const toml::node* find(std::string_view key) const;
    /** @brief The value of @p key; refuses "missing required key" at the
     * table when absent. */
    const toml::node& need(std::string_view key) const;

    /** @name Optional values: nullopt (or empty) when the key is absent.
     * @{ */
    std::optional<std::string> string(std::string_view key) const;
    std::optional<int64_t> integer(std::string_view key, IntRange range) const;
    std::optional<bool> boolean(std::string_view key) const;
    std::optional<std::chrono::milliseconds>
        milliseconds(std::string_view key, int64_t minMs, int64_t maxMs) const;
    std::optional<std::string>
        oneOf(std::string_view key,
              std::span<const std::string_view> choices) const;
    std::vector<std::string> strings(std::string_view key) const;
    std::vector<std::string> names(std::string_view key,
                                   const NameRule& rule) const;
    /** @brief A sub-table, named by its key. */
    std::optional<Table> table(std::string_view key) const;
    /** @brief An array of tables ([[key]]), each named by the key. */
    std::vector<Table> tables(std::string_view key) const;
    /** @} */

  private:
    std::string tableName;
    const toml::table* tableNode;
};

} // namespace vfiod::toml_reader
