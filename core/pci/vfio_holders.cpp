#include "pci/vfio_holders.hpp"

#include "kernel/sysfs_layout.hpp"

#include <algorithm>

namespace vfiod
{

std::vector<VfioHolder> holdersOf(KernelHost& host, const PciDevice& device)
{
    if (!isVfioDriver(device.driver))
    {
        return {}; // no node to hold: nothing to scan for
    }
    return holdersOf(host, device, host.vfioHolders());
}

std::vector<VfioHolder> holdersOf(KernelHost& host, const PciDevice& device,
                                  std::vector<VfioHolder> all)
{
    if (!isVfioDriver(device.driver))
    {
        return {};
    }
    std::vector<std::string> nodes;
    if (device.iommuGroup >= 0)
    {
        nodes.push_back("vfio/" + std::to_string(device.iommuGroup));
    }
    for (const std::string& cdev :
         host.list(sysfs::devicePath(device.address) + "/vfio-dev"))
    {
        nodes.push_back("vfio/devices/" + cdev);
    }
    std::vector<VfioHolder> holders = std::move(all);
    std::erase_if(holders, [&nodes](const VfioHolder& holder) {
        return std::find(nodes.begin(), nodes.end(), holder.node) ==
               nodes.end();
    });
    return holders;
}

std::vector<std::string> holderNames(const std::vector<VfioHolder>& holders)
{
    std::vector<std::string> names;
    for (const VfioHolder& holder : holders)
    {
        std::string name = std::to_string(holder.pid) + " " + holder.command;
        if (std::find(names.begin(), names.end(), name) == names.end())
        {
            names.push_back(std::move(name));
        }
    }
    return names;
}

std::string describeHolders(const std::vector<VfioHolder>& holders)
{
    std::string text = "held open by ";
    for (size_t i = 0; i < holders.size(); ++i)
    {
        const VfioHolder& holder = holders[i];
        text += (i == 0 ? "" : ", ") + std::string("pid ") +
                std::to_string(holder.pid) + " (" + holder.command +
                ") through /dev/" + holder.node;
    }
    return text;
}

} // namespace vfiod
