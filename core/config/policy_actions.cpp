#include "config/policy_reader.hpp"
#include "kernel/sysfs_layout.hpp"

namespace vfiod::policy_reader
{

namespace
{

using toml_reader::refuse;

std::string requireBind(const std::string& key, const toml::node& node)
{
    const std::string& text = toml_reader::string(key, node);
    if (text == "vfio-pci" || text == "auto" ||
        (text.ends_with("_vfio_pci") && sysfs::isValidDriverName(text)))
    {
        return text;
    }
    refuse(node, toml_reader::quoted(key) +
                     " must be \"vfio-pci\", \"auto\" or a vfio-pci variant "
                     "driver (NAME_vfio_pci), not " +
                     toml_reader::quoted(text));
}

OnRelease requireOnRelease(const std::string& key, const toml::node& node)
{
    // Its own words (check-config has always said them), not oneOf's.
    const std::string& text = toml_reader::string(key, node);
    for (OnRelease value : {OnRelease::Host, OnRelease::Vfio})
    {
        if (text == onReleaseName(value))
        {
            return value;
        }
    }
    refuse(node, toml_reader::quoted(key) +
                     " must be \"host\" or \"vfio\", not " +
                     toml_reader::quoted(text));
}

} // namespace

void readActions(const toml_reader::Table& table, PolicyActions& actions)
{
    using Key = const std::string&;
    table.read({
        {"bind",
         [&](Key k, const toml::node& v) { actions.bind = requireBind(k, v); }},
        {"reset_method",
         [&](Key k, const toml::node& v) {
             actions.resetMethod =
                 toml_reader::oneOf(k, v, sysfs::resetMethods);
         }},
        {"plugin",
         [&](Key k, const toml::node& v) {
             // Plugin names become file names: same rule as drivers.
             actions.plugin = toml_reader::name(k, v, sysfs::driverNameRule);
         }},
        {"users",
         [&](Key k, const toml::node& v) {
             actions.users = toml_reader::names(k, v, toml_reader::userName);
         }},
        {"groups",
         [&](Key k, const toml::node& v) {
             actions.groups = toml_reader::names(k, v, toml_reader::userName);
         }},
        {"on_release",
         [&](Key k, const toml::node& v) {
             actions.onRelease = requireOnRelease(k, v);
         }},
        {"reset_on_release",
         [&](Key k, const toml::node& v) {
             actions.resetOnRelease = toml_reader::boolean(k, v);
         }},
    });
}

} // namespace vfiod::policy_reader
