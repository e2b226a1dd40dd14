#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod::sim
{

/**
 * @brief Typed access to a toml++ document where every mistake becomes
 * Error(Errc::InvalidArgument, "FILE:LINE:COL: message"), pointing at the
 * offending key or value.
 */
class TomlReader
{
  public:
    /** @param sourceName names the document in errors (a path). */
    explicit TomlReader(std::string sourceName);

    toml::table parse(std::string_view text) const;

    [[noreturn]] void failAt(const toml::source_region& where,
                             const std::string& message) const;

    /** @brief Fails at the first key not in @p allowed. */
    void checkKeys(const toml::table& table,
                   std::span<const std::string_view> allowed,
                   const char* what) const;

    /** @brief An array of tables ([[key]]), nullptr when absent. */
    const toml::array* tableArray(const toml::table& root,
                                  std::string_view key) const;
    const toml::table& asTable(const toml::node& node,
                               const std::string& what) const;

    /** @brief An integer in [min, max], nullopt when absent. */
    std::optional<int64_t> integer(const toml::table& table,
                                   std::string_view key, int64_t min,
                                   int64_t max) const;
    /** @brief Like integer(), failing at the table when absent. */
    int64_t required(const toml::table& table, std::string_view key,
                     int64_t min, int64_t max) const;
    std::optional<std::string> string(const toml::table& table,
                                      std::string_view key) const;
    std::optional<bool> boolean(const toml::table& table,
                                std::string_view key) const;
    /** @brief An array of strings, empty when absent. */
    std::vector<std::string> strings(const toml::table& table,
                                     std::string_view key) const;
    /** @brief An array of driver or module names. */
    std::vector<std::string> names(const toml::table& table,
                                   std::string_view key) const;

    /** @brief The value of a key known to be present. */
    const toml::node& node(const toml::table& table, std::string_view key) const
    {
        return *table.get(key);
    }
    /** @brief Element @p index of an array known to be present. */
    const toml::node& element(const toml::table& table, std::string_view key,
                              size_t index) const;

  private:
    std::string file;
};

} // namespace vfiod::sim
