#include "sim/sim_dev_nodes.hpp"

#include <algorithm>

namespace vfiod::sim
{

namespace
{

/** @brief The decimal number after @p prefix, or -1. */
int numberAfter(std::string_view text, std::string_view prefix)
{
    if (!text.starts_with(prefix) || text.size() == prefix.size())
    {
        return -1;
    }
    int value = 0;
    for (char c : text.substr(prefix.size()))
    {
        if (c < '0' || c > '9' || value > 100000000)
        {
            return -1;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

} // namespace

bool devNodeExists(const Model& model, std::string_view path)
{
    if (path == "vfio" || path == "vfio/vfio" || path == "vfio/devices")
    {
        return vfioLoaded(model);
    }
    int k = numberAfter(path, "vfio/devices/vfio");
    if (k >= 0)
    {
        return std::any_of(
            model.devices.begin(), model.devices.end(),
            [k](const auto& entry) { return entry.second.vfioDev == k; });
    }
    int group = numberAfter(path, "vfio/");
    if (group >= 0 && vfioLoaded(model))
    {
        return std::any_of(model.devices.begin(), model.devices.end(),
                           [group](const auto& entry) {
                               return entry.second.iommuGroup == group &&
                                      isVfioDriverName(entry.second.driver);
                           });
    }
    return false;
}

} // namespace vfiod::sim
