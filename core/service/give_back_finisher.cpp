// A give-back (or a rolled-back bind) whose unbind timed out is still
// blocked in the kernel: when the kernel lets go (its "unbind" uevent),
// the device goes back to its driver rather than stay without one.
#include "service/device_manager.hpp"

namespace vfiod
{

void DeviceManager::finishLater(const PciAddress& address,
                                const std::optional<std::string>& driver)
{
    if (calls.isStuck(address))
    {
        // The operation that got stuck decides; a later one refused with
        // Busy meanwhile must not overwrite its plan.
        std::lock_guard lock(mutex);
        unfinishedGiveBacks.try_emplace(address, driver);
    }
}

void DeviceManager::finishIfPending(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    auto pending = unfinishedGiveBacks.find(address);
    if (pending != unfinishedGiveBacks.end())
    {
        // Off the event thread: drivers_probe runs a driver's probe.
        finishers.emplace_back(&DeviceManager::finishGiveBack, this, address,
                               pending->second);
        unfinishedGiveBacks.erase(pending);
    }
}

void DeviceManager::finishGiveBack(
    const PciAddress& address, const std::optional<std::string>& originalDriver)
{
    try
    {
        calls.waitUntilNotStuck(address, options.timeouts.unbind);
        GroupHold hold = holdGroup(address);
        binder.giveBack(address, originalDriver);
        update(address, [](DeviceInfo& info) { info.originalDriver.reset(); });
        persist(address);
        succeeded(address);
    }
    catch (const Error& e)
    {
        recordError(address, e);
    }
}

} // namespace vfiod
