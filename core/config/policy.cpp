#include "config/policy.hpp"

#include <algorithm>

namespace vfiod
{

namespace
{

template <typename T>
bool anyOf(const std::vector<T>& list, const T& value)
{
    return list.empty() ||
           std::find(list.begin(), list.end(), value) != list.end();
}

bool inRanges(const std::vector<VfIndexRange>& ranges, unsigned index)
{
    if (ranges.empty())
    {
        return true;
    }
    return std::any_of(ranges.begin(), ranges.end(),
                       [index](const VfIndexRange& range) {
                           return index >= range.first && index <= range.last;
                       });
}

bool matchesVf(const PolicyMatch& match, const PciDevice& device)
{
    if (!match.pf)
    {
        return true;
    }
    // A VF whose index could not be found (its PF lost the virtfn link)
    // matches only a selector that takes every VF of the PF.
    if (device.physfn != match.pf)
    {
        return false;
    }
    if (!device.vfIndex)
    {
        return match.vfIndexes.empty();
    }
    return inRanges(match.vfIndexes, *device.vfIndex);
}

} // namespace

bool PolicyMatch::matches(const PciDevice& device) const
{
    if (all)
    {
        return true;
    }
    if (vendor && *vendor != device.vendorId)
    {
        return false;
    }
    if (subsystemVendor && *subsystemVendor != device.subsystemVendorId)
    {
        return false;
    }
    if (subsystemDevice && *subsystemDevice != device.subsystemDeviceId)
    {
        return false;
    }
    if (classCode && (device.classCode & classMask) != (*classCode & classMask))
    {
        return false;
    }
    // An empty physicalSlot (no slot) never equals a listed slot name, as
    // the parser refuses empty names.
    return anyOf(devices, device.deviceId) &&
           anyOf(addresses, device.address) && anyOf(drivers, device.driver) &&
           anyOf(slots, device.physicalSlot) && matchesVf(*this, device);
}

std::string_view onReleaseName(OnRelease value) noexcept
{
    switch (value)
    {
        case OnRelease::Vfio:
            return "vfio";
        case OnRelease::Host:
            return "host";
    }
    return "vfio";
}

const PolicyRule* Policy::match(const PciDevice& device) const
{
    for (const PolicyRule& rule : rules)
    {
        if (rule.match.matches(device))
        {
            return &rule;
        }
    }
    return nullptr;
}

PolicyExplanation Policy::explain(const PciDevice& device) const
{
    PolicyExplanation explanation;
    const PolicyRule* rule = match(device);
    if (rule != nullptr)
    {
        explanation.matched = true;
        explanation.rule = rule->name;
        explanation.file = rule->file;
        explanation.line = rule->line;
        explanation.actions = rule->actions;
    }
    return explanation;
}

} // namespace vfiod
