#include "sim/sim_toml_reader.hpp"

#include "base/error.hpp"
#include "kernel/sysfs_layout.hpp"

#include <algorithm>
#include <cstdio>

namespace vfiod::sim
{

TomlReader::TomlReader(std::string sourceName) : file(std::move(sourceName)) {}

toml::table TomlReader::parse(std::string_view text) const
{
    try
    {
        return toml::parse(text, std::string_view(file));
    }
    catch (const toml::parse_error& e)
    {
        failAt(e.source(), std::string(e.description()));
    }
}

void TomlReader::failAt(const toml::source_region& where,
                        const std::string& message) const
{
    fail(Errc::InvalidArgument, file + ":" + std::to_string(where.begin.line) +
                                    ":" + std::to_string(where.begin.column) +
                                    ": " + message);
}

const toml::node& TomlReader::element(const toml::table& table,
                                      std::string_view key, size_t index) const
{
    return (*table.get(key)->as_array())[index];
}

void TomlReader::checkKeys(const toml::table& table,
                           std::span<const std::string_view> allowed,
                           const char* what) const
{
    for (auto&& [key, value] : table)
    {
        if (std::find(allowed.begin(), allowed.end(), key.str()) ==
            allowed.end())
        {
            failAt(key.source(),
                   "unknown key \"" + std::string(key.str()) + "\" in " + what);
        }
    }
}

const toml::array* TomlReader::tableArray(const toml::table& root,
                                          std::string_view key) const
{
    const toml::node* node = root.get(key);
    if (node == nullptr)
    {
        return nullptr;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr)
    {
        failAt(node->source(), "\"" + std::string(key) +
                                   "\" must be an array of tables ([[" +
                                   std::string(key) + "]])");
    }
    return array;
}

const toml::table& TomlReader::asTable(const toml::node& node,
                                       const std::string& what) const
{
    const toml::table* table = node.as_table();
    if (table == nullptr)
    {
        failAt(node.source(), what + " must be a table");
    }
    return *table;
}

std::optional<int64_t> TomlReader::integer(const toml::table& table,
                                           std::string_view key, int64_t min,
                                           int64_t max) const
{
    const toml::node* node = table.get(key);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    const auto* value = node->as_integer();
    if (value == nullptr)
    {
        failAt(node->source(), "\"" + std::string(key) +
                                   "\" must be an integer (hex as 0x...)");
    }
    int64_t v = value->get();
    if (v < min || v > max)
    {
        char range[64];
        std::snprintf(range, sizeof range, "%lld..%lld (0x%llx)",
                      static_cast<long long>(min), static_cast<long long>(max),
                      static_cast<unsigned long long>(max));
        failAt(node->source(), "\"" + std::string(key) +
                                   "\" = " + std::to_string(v) +
                                   " is out of range " + range);
    }
    return v;
}

int64_t TomlReader::required(const toml::table& table, std::string_view key,
                             int64_t min, int64_t max) const
{
    std::optional<int64_t> v = integer(table, key, min, max);
    if (!v)
    {
        failAt(table.source(),
               "missing required key \"" + std::string(key) + "\"");
    }
    return *v;
}

std::optional<std::string> TomlReader::string(const toml::table& table,
                                              std::string_view key) const
{
    const toml::node* node = table.get(key);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    const auto* value = node->as_string();
    if (value == nullptr)
    {
        failAt(node->source(), "\"" + std::string(key) + "\" must be a string");
    }
    return value->get();
}

std::optional<bool> TomlReader::boolean(const toml::table& table,
                                        std::string_view key) const
{
    const toml::node* node = table.get(key);
    if (node == nullptr)
    {
        return std::nullopt;
    }
    const auto* value = node->as_boolean();
    if (value == nullptr)
    {
        failAt(node->source(),
               "\"" + std::string(key) + "\" must be true or false");
    }
    return value->get();
}

std::vector<std::string> TomlReader::strings(const toml::table& table,
                                             std::string_view key) const
{
    std::vector<std::string> out;
    const toml::node* node = table.get(key);
    if (node == nullptr)
    {
        return out;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr)
    {
        failAt(node->source(),
               "\"" + std::string(key) + "\" must be an array of strings");
    }
    for (const toml::node& element : *array)
    {
        const auto* value = element.as_string();
        if (value == nullptr)
        {
            failAt(element.source(),
                   "\"" + std::string(key) + "\" must hold only strings");
        }
        out.push_back(value->get());
    }
    return out;
}

std::vector<std::string> TomlReader::names(const toml::table& table,
                                           std::string_view key) const
{
    std::vector<std::string> out = strings(table, key);
    for (size_t i = 0; i < out.size(); ++i)
    {
        if (!sysfs::isValidDriverName(out[i]))
        {
            failAt(element(table, key, i).source(),
                   "\"" + out[i] +
                       "\" is not a valid name (1-64 of A-Z a-z 0-9 _ -)");
        }
    }
    return out;
}

} // namespace vfiod::sim
