#include "sim/sim_sysfs_dirs.hpp"

#include <algorithm>

namespace vfiod::sim::tree
{

namespace
{

bool groupExists(const Model& model, int group)
{
    return group >= 0 &&
           std::any_of(model.devices.begin(), model.devices.end(),
                       [group](const auto& entry) {
                           return entry.second.iommuGroup == group;
                       });
}

std::optional<SysEntry> groupsChild(const Model& model, const SysDir&,
                                    std::string_view name)
{
    int group = numberNamed(name);
    if (groupExists(model, group))
    {
        return dirEntry(numberedDir(At::Group, group));
    }
    return std::nullopt;
}

void groupsNames(const Model& model, const SysDir&,
                 std::vector<std::string>& names)
{
    std::vector<int> groups;
    for (const auto& [address, d] : model.devices)
    {
        if (d.iommuGroup >= 0)
        {
            groups.push_back(d.iommuGroup);
        }
    }
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    for (int group : groups)
    {
        names.push_back(std::to_string(group));
    }
}

std::optional<SysEntry> groupDevicesChild(const Model& model, const SysDir& dir,
                                          std::string_view name)
{
    return deviceLinkNamed(model, name, [&](const Device& d) {
        return d.iommuGroup == dir.number;
    });
}

void groupDevicesNames(const Model& model, const SysDir& dir,
                       std::vector<std::string>& names)
{
    for (const auto& [address, d] : model.devices)
    {
        if (d.iommuGroup == dir.number)
        {
            names.push_back(address.str());
        }
    }
}

} // namespace

const DirContents groupsContents{groupsChild, groupsNames};
const DirContents groupDevicesContents{groupDevicesChild, groupDevicesNames};

} // namespace vfiod::sim::tree
