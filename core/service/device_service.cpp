#include "service/device_service.hpp"

#include "base/errno_map.hpp"

#include <algorithm>

namespace vfiod
{

namespace
{

/// The generic plugin resets as vfiod itself does (sysfs): vfiod keeps its
/// own path for it.
constexpr std::string_view genericPlugin = "vfio-pci";

/** The -errno a plugin's cleanup op is told a failure ended with. */
int errnoOf(const Error& error) noexcept
{
    return -errnoOfErrc(error.code(), ErrnoTo::Result);
}

/** The plugin host keeps its call markers and quarantine in the state
 * directory, beside the ledger, unless told otherwise. */
PluginHostConfig withStateDir(PluginHostConfig config,
                              const std::string& stateDir)
{
    if (config.stateDir.empty())
    {
        config.stateDir = stateDir;
    }
    return config;
}

} // namespace

DeviceService::DeviceService(KernelHost& host, ServiceOptions options,
                             NoticeSink notices) :
    notices(std::move(notices)),
    stuck(std::make_shared<StuckDevices>()),
    ledger(options.ledgerDir.empty()
               ? nullptr
               : std::make_unique<Ledger>(options.ledgerDir)),
    manager(host, options.manager, stuck), enforcer(manager, *this),
    pluginHost(host,
               withStateDir(std::move(options.plugins), options.ledgerDir),
               stuck),
    pluginDevices(pluginHost, manager, enforcer, this->notices)
{
    if (ledger)
    {
        manager.keepLedger(*ledger);
    }
    manager.subscribe([this](const DeviceChange& change) {
        // The plugin is chosen before the device is announced (listeners
        // run in order), so that a device object is complete when it
        // appears; a device that goes takes its session along.
        if (change.kind == DeviceChange::Kind::Added)
        {
            pluginDevices.refresh(change.address);
        }
        else if (change.kind == DeviceChange::Kind::Removed)
        {
            pluginDevices.forget(change.address);
        }
    });
}

DeviceService::~DeviceService()
{
    // A give-back still finishing tells the registry's listeners, and the
    // first of them is this service's: it must end while the plugins it
    // refreshes are still here.
    manager.joinFinishers();
}

void DeviceService::onStatusChange(StatusListener listener)
{
    listeners.push_back(std::move(listener));
}

void DeviceService::statusChanged(const PciAddress& address)
{
    for (const StatusListener& listener : listeners)
    {
        listener(address);
    }
}

void DeviceService::leaveMigration(const Request& request)
{
    stuck->requireNotStuck(request.address);
    // A device changes hands only outside a migration: the session (and
    // the VFIO device its plugin opened) ends first.
    pluginDevices.requireNotHeld(request.address, request.what);
    if (pluginDevices.endSession(request.address))
    {
        statusChanged(request.address);
    }
}

namespace
{

/** A cleanup op that fails is a notice: the operation's own outcome is
 *  what the caller gets. */
template <typename Cleanup>
void cleanupQuietly(const NoticeSink& notices, const PciAddress& address,
                    Cleanup&& cleanup)
{
    try
    {
        cleanup();
    }
    catch (const std::exception& e)
    {
        notices(NoticeLevel::Warning, "plugin cleanup for " + address.str() +
                                          ": " + e.what() + ", ignoring");
    }
}

} // namespace

void DeviceService::giveBackAfterPrepare(const PciAddress& address)
{
    // The bind failed after a prepare had taken the device off its driver:
    // the rollback leaves it where the prepare left it, without one.
    auto info = manager.info(address);
    if (!info || !info->pci.driver.empty() || !info->originalDriver)
    {
        return;
    }
    try
    {
        manager.unbind(address);
    }
    catch (const std::exception& e)
    {
        notices(NoticeLevel::Warning, address.str() + ": cannot return it to " +
                                          *info->originalDriver +
                                          " after a failed bind: " + e.what());
    }
}

std::string DeviceService::bind(const Request& request,
                                const std::string& driver, bool wholeGroup)
{
    leaveMigration(request);
    DeviceManager::GroupHold hold = manager.holdGroup(request.address);
    std::optional<PluginDevice> plugin =
        pluginDevices.deviceFor(request.address);
    return bindHeld(request, plugin, driverFor(plugin, driver), wholeGroup);
}

std::string DeviceService::driverFor(std::optional<PluginDevice>& plugin,
                                     const std::string& requested)
{
    // The caller's choice first, then the plugin's, then modules.alias.
    return plugin && requested.empty() ? plugin->chooseDriver() : requested;
}

std::string DeviceService::bindHeld(const Request& request,
                                    std::optional<PluginDevice>& plugin,
                                    const std::string& driver, bool wholeGroup)
{
    // The plugin prepares only a real move: prepare ops may unbind.
    std::string target = manager.chooseVfioDriver(request.address, driver);
    auto info = manager.info(request.address);
    bool moves = plugin && info && info->pci.driver != target;
    if (moves)
    {
        // A prepare may unbind the device itself: its driver is recorded
        // first, or the give-back would not know it.
        manager.rememberOriginalDriver(request.address);
        plugin->prepareBind(target);
    }
    try
    {
        // The driver as chosen above: the binder need not choose again.
        manager.bind(request.address, target, wholeGroup);
    }
    catch (const Error& e)
    {
        if (moves)
        {
            cleanupQuietly(notices, request.address,
                           [&] { plugin->cleanupBind(target, errnoOf(e)); });
            giveBackAfterPrepare(request.address);
        }
        throw;
    }
    if (moves)
    {
        cleanupQuietly(notices, request.address,
                       [&] { plugin->cleanupBind(target, 0); });
    }
    return target;
}

void DeviceService::unbind(const Request& request)
{
    leaveMigration(request);
    std::optional<DeviceInfo> info = manager.info(request.address);
    if (info && neverTaken(*info))
    {
        // Nothing of vfiod's to undo. Giving it "back" would hand a device
        // that had no driver the one the kernel picks, and a host driver on
        // a member makes its IOMMU group non-viable under whoever uses it.
        return;
    }
    if (info && info->state != DeviceState::Assigned)
    {
        // An assigned device's holder is its assignee's VMM, and the
        // unbind refuses it anyway (Busy).
        requireNotHeldUnlessForced(request);
    }
    manager.unbind(request.address);
}

void DeviceService::requireNotHeldUnlessForced(const Request& request)
{
    if (!request.force)
    {
        manager.requireNotHeld(request.address, request.what);
    }
}

bool DeviceService::neverTaken(const DeviceInfo& info)
{
    const PciDevice& pci = info.pci;
    bool heldForVfio =
        pci.driverOverride == "none" || isVfioDriver(pci.driverOverride);
    return !info.originalDriver && pci.driver.empty() && !heldForVfio;
}

void DeviceService::assign(const Request& request, const std::string& owner,
                           const std::string& driver,
                           const std::string& leaseToken)
{
    leaveMigration(request);
    manager.requireUnassigned(request.address); // at once, without waiting
    DeviceManager::GroupHold hold = manager.holdGroup(request.address);
    requireNotHeldUnlessForced(request);
    std::optional<PluginDevice> plugin =
        pluginDevices.deviceFor(request.address);
    std::string chosen = driverFor(plugin, driver);
    auto info = manager.info(request.address);
    if (info && !isVfioDriver(info->pci.driver))
    {
        // Assign binds first, with the bind hooks around that bind.
        bindHeld(request, plugin, chosen, false);
    }
    if (plugin)
    {
        plugin->prepareAssign();
    }
    try
    {
        manager.assign(request.address, owner, chosen, leaseToken);
    }
    catch (const Error& e)
    {
        if (plugin)
        {
            cleanupQuietly(notices, request.address,
                           [&] { plugin->cleanupAssign(errnoOf(e)); });
        }
        throw;
    }
    if (plugin)
    {
        cleanupQuietly(notices, request.address,
                       [&] { plugin->cleanupAssign(0); });
    }
}

void DeviceService::reattach(const Request& request, const std::string& token,
                             const std::string& newOwner)
{
    manager.reattach(request.address, token, newOwner);
}

PolicyOutcome DeviceService::release(const Request& request,
                                     const std::string& owner)
{
    pluginDevices.requireNotHeld(request.address, request.what);
    return endAssignment(request.address, owner);
}

PolicyOutcome DeviceService::releaseClosedLease(const PciAddress& address,
                                                const std::string& owner)
{
    // The holder is gone: nobody is left to wait for, whatever else runs
    // on the device.
    return endAssignment(address, owner);
}

PolicyOutcome DeviceService::endAssignment(const PciAddress& address,
                                           const std::string& owner)
{
    manager.release(address, owner);
    try
    {
        return enforcer.afterRelease(address);
    }
    catch (const std::exception& e)
    {
        // Released all the same: what the policy does next is a note.
        PolicyOutcome outcome;
        outcome.failures.push_back(
            address.str() + ": the on-release steps failed: " + e.what());
        return outcome;
    }
}

void DeviceService::reset(const Request& request, const std::string& method)
{
    leaveMigration(request);
    std::string chosen = enforcer.resetMethodFor(request.address, method);
    DeviceManager::GroupHold hold = manager.holdGroup(request.address);
    if (auto info = manager.info(request.address);
        info && info->state != DeviceState::Assigned)
    {
        // Resetting a device under a running VMM corrupts its guest; the
        // assignee's own VMM is its owner's business.
        requireNotHeldUnlessForced(request);
    }
    std::optional<PluginDevice> plugin =
        pluginDevices.deviceFor(request.address);
    if (!plugin || !plugin->canReset() || plugin->pluginName() == genericPlugin)
    {
        manager.reset(request.address, chosen);
        return;
    }
    auto info = manager.info(request.address);
    if (info && !chosen.empty() &&
        std::find(info->pci.resetMethods.begin(), info->pci.resetMethods.end(),
                  chosen) == info->pci.resetMethods.end())
    {
        fail(Errc::NotSupported, request.what + ": \"" + chosen +
                                     "\" is not one of the device's reset "
                                     "methods");
    }
    try
    {
        plugin->reset(chosen);
    }
    catch (const Error& e)
    {
        manager.setLastError(request.address, e.what());
        throw;
    }
    manager.setLastError(request.address, "");
    if (pluginDevices.refresh(request.address))
    {
        statusChanged(request.address);
    }
}

PolicyOutcome DeviceService::applyPolicy(const PciAddress& address)
{
    PolicyOutcome outcome = enforcer.apply(address);
    // The policy may name the device's plugin.
    if (pluginDevices.refresh(address))
    {
        statusChanged(address);
    }
    return outcome;
}

void DeviceService::setPolicy(std::shared_ptr<const Policy> policy)
{
    enforcer.setPolicy(std::move(policy));
}

PolicyReport DeviceService::explain(const PciAddress& address) const
{
    return enforcer.explain(address);
}

std::vector<PciAddress>
    DeviceService::applyUevents(const std::vector<Uevent>& events)
{
    std::vector<PciAddress> added;
    for (const Uevent& event : events)
    {
        try
        {
            manager.handleUevent(event);
        }
        catch (const std::exception& e)
        {
            notices(NoticeLevel::Warning, "uevent " + event.action + " " +
                                              event.sysname + ": " + e.what() +
                                              ", ignoring");
        }
        PciAddress address;
        if (event.subsystem == "pci" && event.action == "add" &&
            PciAddress::tryParse(event.sysname, address))
        {
            added.push_back(address);
        }
    }
    return added;
}

} // namespace vfiod
