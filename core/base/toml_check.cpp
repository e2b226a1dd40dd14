#include "base/toml_check.hpp"

namespace vfiod::toml_check
{

std::string where(const toml::source_region& region,
                  std::string_view fallback)
{
    std::string file = region.path ? *region.path : std::string(fallback);
    return file + ":" + std::to_string(region.begin.line) + ":" +
           std::to_string(region.begin.column);
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

} // namespace vfiod::toml_check
