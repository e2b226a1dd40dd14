#include "service/plugin_devices.hpp"

#include "base/error.hpp"

#include <algorithm>

namespace vfiod
{

struct PluginDevices::Session
{
    explicit Session(PluginDevice pluginDevice) :
        device(std::move(pluginDevice)), engine(device)
    {}

    PluginDevice device;
    migration::MigrationEngine engine; ///< refers to device
};

std::vector<std::string> migrationFlagNames(migration::Flags flags)
{
    std::vector<std::string> names;
    if ((flags & migration::StopCopyFlag) != 0)
    {
        names.emplace_back("STOP_COPY");
    }
    if ((flags & migration::P2PFlag) != 0)
    {
        names.emplace_back("P2P");
    }
    if ((flags & migration::PreCopyFlag) != 0)
    {
        names.emplace_back("PRE_COPY");
    }
    return names;
}

PluginDevices::PluginDevices(PluginHost& host, DeviceManager& manager,
                             PolicyEnforcer& enforcer, NoticeSink notices) :
    host(host),
    manager(manager), enforcer(enforcer), notices(std::move(notices))
{}

PluginDevices::~PluginDevices()
{
    std::lock_guard lock(mutex);
    for (auto& [address, session] : sessions)
    {
        session->device.release();
    }
}

std::vector<PluginInfo> PluginDevices::plugins() const
{
    return host.plugins();
}

std::vector<QuarantineInfo> PluginDevices::quarantined() const
{
    return host.quarantined();
}

bool PluginDevices::liftQuarantine()
{
    return host.liftQuarantine();
}

void PluginDevices::endCleanRun()
{
    host.endCleanRun();
}

std::string PluginDevices::forcedPlugin(const PciAddress& address) const
{
    return enforcer.explain(address).explanation.actions.plugin;
}

PluginStatus PluginDevices::read(const PciAddress& address,
                                 const DeviceInfo& info,
                                 const std::string& plugin)
{
    PluginStatus now;
    now.plugin = plugin;
    std::shared_ptr<Session> session;
    bool busy = false;
    {
        std::lock_guard lock(mutex);
        // A migration job uses the session: it reports when it is done.
        busy = held.contains(address);
        if (auto it = statuses.find(address);
            it != statuses.end() && it->second.plugin == plugin)
        {
            now.migrationFlags = it->second.migrationFlags;
            now.migrationState = it->second.migrationState;
        }
        if (auto it = sessions.find(address); it != sessions.end())
        {
            session = it->second;
        }
    }
    if (plugin.empty())
    {
        return PluginStatus{};
    }
    if (busy)
    {
        return now;
    }
    if (session)
    {
        now.migrationFlags = migrationFlagNames(session->engine.flags());
        now.migrationState =
            std::string(migration::stateName(session->engine.state()));
        return now;
    }
    if (isVfioDriver(info.pci.driver))
    {
        return now; // opening it could take it from a VMM: keep what we know
    }
    try
    {
        PluginDevice device = host.deviceFor(info.pci, forcedPlugin(address));
        if (device.canMigrate())
        {
            migration::MigrationEngine engine(device);
            now.migrationFlags = migrationFlagNames(engine.flags());
            now.migrationState =
                device.canGetState()
                    ? std::string(migration::stateName(engine.state()))
                    : std::string();
        }
        else
        {
            now.migrationFlags.clear();
            now.migrationState.clear();
        }
        device.release();
    }
    catch (const Error& e)
    {
        // The plugin cannot tell without the device open: not migratable
        // as far as the bus can see now.
        notices(NoticeLevel::Debug,
                "migration of " + address.str() + ": " + e.what());
        now.migrationFlags.clear();
        now.migrationState.clear();
    }
    return now;
}

bool PluginDevices::store(const PciAddress& address, PluginStatus status)
{
    std::lock_guard lock(mutex);
    PluginStatus& slot = statuses[address];
    if (slot == status)
    {
        return false;
    }
    slot = std::move(status);
    return true;
}

bool PluginDevices::refresh(const PciAddress& address)
{
    std::optional<DeviceInfo> info = manager.info(address);
    if (!info)
    {
        return false;
    }
    std::string plugin;
    try
    {
        plugin = host.chooseName(info->pci, forcedPlugin(address));
    }
    catch (const Error& e)
    {
        notices(NoticeLevel::Warning,
                "plugin for " + address.str() + ": " + e.what() + ", ignoring");
    }
    return store(address, read(address, *info, plugin));
}

PluginStatus PluginDevices::status(const PciAddress& address) const
{
    std::lock_guard lock(mutex);
    auto it = statuses.find(address);
    return it == statuses.end() ? PluginStatus{} : it->second;
}

void PluginDevices::forget(const PciAddress& address)
{
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(mutex);
        statuses.erase(address);
        if (auto it = sessions.find(address); it != sessions.end())
        {
            session = std::move(it->second);
            sessions.erase(it);
        }
    }
    if (session)
    {
        session->device.release();
    }
}

std::optional<PluginDevice> PluginDevices::deviceFor(const PciAddress& address)
{
    std::optional<DeviceInfo> info = manager.info(address);
    if (!info)
    {
        fail(Errc::NotFound, "no device " + address.str());
    }
    std::string forced = forcedPlugin(address);
    try
    {
        return host.deviceFor(info->pci, forced);
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::NotFound && forced.empty())
        {
            return std::nullopt;
        }
        throw;
    }
}

migration::MigrationEngine& PluginDevices::engine(const PciAddress& address)
{
    {
        std::lock_guard lock(mutex);
        if (auto it = sessions.find(address); it != sessions.end())
        {
            return it->second->engine;
        }
    }
    std::optional<PluginDevice> device = deviceFor(address);
    if (!device)
    {
        fail(Errc::NotSupported,
             "no plugin handles " + address.str() + ": it cannot migrate");
    }
    auto session = std::make_shared<Session>(std::move(*device));
    session->engine.flags(); // NotSupported before anything is kept
    std::lock_guard lock(mutex);
    auto [it, added] = sessions.emplace(address, std::move(session));
    return it->second->engine;
}

bool PluginDevices::settle(const PciAddress& address)
{
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(mutex);
        if (auto it = sessions.find(address); it != sessions.end())
        {
            session = it->second;
        }
    }
    if (!session)
    {
        return refresh(address);
    }
    PluginStatus now = status(address);
    bool running = false;
    try
    {
        now.migrationFlags = migrationFlagNames(session->engine.flags());
        migration::State state = session->engine.state();
        now.migrationState = std::string(migration::stateName(state));
        running = state == migration::State::Running;
    }
    catch (const Error& e)
    {
        notices(NoticeLevel::Warning, "migration state of " + address.str() +
                                          ": " + e.what() + ", ignoring");
    }
    bool changed = store(address, std::move(now));
    if (running)
    {
        changed = endSession(address) || changed;
    }
    return changed;
}

bool PluginDevices::endSession(const PciAddress& address)
{
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(mutex);
        auto it = sessions.find(address);
        if (it == sessions.end())
        {
            return false;
        }
        session = std::move(it->second);
        sessions.erase(it);
    }
    session->device.release();
    // A VFIO device that is closed is reset by the kernel: RUNNING again
    // (a plugin that answers from sysfs says so itself).
    PluginStatus now = status(address);
    std::optional<DeviceInfo> info = manager.info(address);
    if (info && isVfioDriver(info->pci.driver))
    {
        if (!now.migrationFlags.empty())
        {
            now.migrationState = "RUNNING";
        }
        return store(address, std::move(now));
    }
    return refresh(address);
}

std::shared_ptr<migration::CancelToken>
    PluginDevices::queue(const std::vector<PciAddress>& addresses)
{
    auto token = std::make_shared<migration::CancelToken>();
    std::lock_guard lock(mutex);
    for (const PciAddress& address : addresses)
    {
        tokens.emplace(address, token);
    }
    return token;
}

void PluginDevices::unqueue(
    const std::shared_ptr<migration::CancelToken>& token)
{
    std::lock_guard lock(mutex);
    std::erase_if(tokens,
                  [&](const auto& entry) { return entry.second == token; });
}

size_t PluginDevices::cancel(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    size_t count = 0;
    auto [first, last] = tokens.equal_range(address);
    for (auto it = first; it != last; ++it)
    {
        it->second->cancel();
        ++count;
    }
    return count;
}

void PluginDevices::hold(const std::vector<PciAddress>& addresses,
                         const std::string& what)
{
    std::lock_guard lock(mutex);
    for (const PciAddress& address : addresses)
    {
        if (auto it = held.find(address); it != held.end())
        {
            fail(Errc::Busy,
                 what + ": " + address.str() + " is busy with " + it->second);
        }
    }
    for (const PciAddress& address : addresses)
    {
        held.emplace(address, what);
    }
}

void PluginDevices::unhold(const std::vector<PciAddress>& addresses)
{
    std::lock_guard lock(mutex);
    for (const PciAddress& address : addresses)
    {
        held.erase(address);
    }
}

void PluginDevices::requireNotHeld(const PciAddress& address,
                                   const std::string& what) const
{
    std::lock_guard lock(mutex);
    if (auto it = held.find(address); it != held.end())
    {
        fail(Errc::Busy,
             what + ": " + address.str() + " is busy with " + it->second);
    }
}

} // namespace vfiod
