#include "udev_rules_writer.hpp"

#include "base/error.hpp"
#include "config/udev_rules.hpp"
#include "logging.hpp"

namespace vfiod::daemon
{

UdevRulesWriter::UdevRulesWriter(DeviceManager& manager, std::string dir) :
    manager(manager), dir(std::move(dir))
{}

void UdevRulesWriter::update(const Policy& policy)
{
    std::vector<PciDevice> devices;
    for (const PciAddress& address : manager.addresses())
    {
        std::optional<DeviceInfo> info = manager.info(address);
        // Only PFs shape the rules ("pf" selectors): the rest is not copied.
        if (info && info->pci.sriovCapable)
        {
            devices.push_back(info->pci);
        }
    }
    std::string text = generateUdevRules(policy, devices);

    std::lock_guard lock(mutex);
    current = text;
    if (dir.empty())
    {
        return;
    }
    try
    {
        if (writeUdevRules(dir, text))
        {
            logInfo("udev rules written to " + dir + "/" +
                    std::string(udevRulesFileName));
        }
    }
    catch (const Error& e)
    {
        logWarning(std::string(e.what()) +
                   "; devices are bound after they appear instead");
    }
}

std::string UdevRulesWriter::text() const
{
    std::lock_guard lock(mutex);
    return current;
}

} // namespace vfiod::daemon
