#pragma once

#include "base/notice.hpp"
#include "migration/migration_engine.hpp"
#include "plugin/plugin_host.hpp"
#include "service/device_manager.hpp"
#include "service/policy_enforcer.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace vfiod
{

/** @brief What the bus shows of a device's plugin and migration. */
struct PluginStatus
{
    std::string plugin;                      ///< Device.Plugin, "" = none
    std::vector<std::string> migrationFlags; ///< "STOP_COPY", "P2P", ...
    std::string migrationState; ///< kernel name, "" when not known/migratable

    bool operator==(const PluginStatus&) const = default;
};

/**
 * @brief The daemon's side of the plugins: which plugin handles each
 * device (Device.Plugin), what it says of its migration
 * (MigrationFlags, MigrationState), the migration sessions, and the
 * save/load/migrate operations in flight with their cancel tokens.
 *
 * A session keeps one PluginDevice (and so the VFIO device the plugin
 * opened) per device between migration calls: closing a VFIO device
 * resets its migration state. It ends when the device is back in
 * RUNNING, and before anything else (bind, unbind, assign, release,
 * reset) touches the device.
 *
 * Migration flags and state are only asked of a plugin when that cannot
 * open a VFIO device behind a VMM's back: when the device is not on a
 * vfio driver (a plugin that answers from sysfs answers, the generic one
 * cannot), or when vfiod holds a session on it. Otherwise the last known
 * values stay.
 *
 * Thread-safe. Sessions are used by the job that holds the device
 * (begin()/end()): its lane, or a Migrate on another lane.
 */
class PluginDevices
{
  public:
    PluginDevices(PluginHost& host, DeviceManager& manager,
                  PolicyEnforcer& enforcer, NoticeSink notices);
    ~PluginDevices();

    PluginDevices(const PluginDevices&) = delete;
    PluginDevices& operator=(const PluginDevices&) = delete;

    /** @brief The loaded plugins (Manager.Plugins). */
    std::vector<PluginInfo> plugins() const;

    /** @brief The plugins in quarantine (Manager.QuarantinedPlugins). */
    std::vector<QuarantineInfo> quarantined() const;

    /** @brief A Reload lifts the quarantine (PluginHost::liftQuarantine).
     *  @return whether quarantined() changed. */
    bool liftQuarantine();

    /** @brief vfiod stops normally: PluginHost::endCleanRun. */
    void endCleanRun();

    /**
     * @brief Chooses the device's plugin again (the policy's "plugin" is
     * forced) and reads its migration flags and state where that is
     * harmless. Blocks for at most the plugin op timeout. Any thread.
     * @return whether the status changed.
     */
    bool refresh(const PciAddress& address);

    /** @brief The status last read; empty for an unknown device. */
    PluginStatus status(const PciAddress& address) const;

    /** @brief The device went away: its session and status go too. */
    void forget(const PciAddress& address);

    /**
     * @brief The device in the hands of its plugin, for the bind, assign
     * and reset hooks; std::nullopt when no plugin handles it.
     * @throws Error when the policy names a plugin that is not loaded or
     *         does not handle the device.
     */
    std::optional<PluginDevice> deviceFor(const PciAddress& address);

    /**
     * @brief The migration engine of the device's session, opened on
     * first use. Only the job holding the device (begin()) may use it.
     * @throws Error: NotFound (unknown device, no plugin), NotSupported.
     */
    migration::MigrationEngine& engine(const PciAddress& address);

    /**
     * @brief After a migration call: records flags and state from the
     * session, and ends the session when the device is back in RUNNING.
     * @return whether the status changed.
     */
    bool settle(const PciAddress& address);

    /**
     * @brief Ends the device's session, if any (the plugin releases the
     * VFIO device it opened). @return whether the status changed.
     */
    bool endSession(const PciAddress& address);

    /**
     * @brief Registers a save, load or migrate as queued on @p addresses:
     * CancelMigration on any of them cancels the token from now on.
     */
    std::shared_ptr<migration::CancelToken>
        queue(const std::vector<PciAddress>& addresses);

    /** @brief The operation of @p token is over. */
    void unqueue(const std::shared_ptr<migration::CancelToken>& token);

    /** @return how many operations were cancelled (0: none queued). */
    size_t cancel(const PciAddress& address);

    /**
     * @brief Marks @p addresses as held by one migration job.
     * @throws Error(Busy) when one is held already (nothing marked).
     */
    void hold(const std::vector<PciAddress>& addresses,
              const std::string& what);
    void unhold(const std::vector<PciAddress>& addresses);

    /** @throws Error(Busy) when a migration job holds the device. */
    void requireNotHeld(const PciAddress& address,
                        const std::string& what) const;

  private:
    struct Session;

    std::string forcedPlugin(const PciAddress& address) const;
    PluginStatus read(const PciAddress& address, const DeviceInfo& info,
                      const std::string& plugin);
    bool store(const PciAddress& address, PluginStatus status);

    PluginHost& host;
    DeviceManager& manager;
    PolicyEnforcer& enforcer;
    NoticeSink notices;

    mutable std::mutex mutex; ///< guards everything below
    std::map<PciAddress, PluginStatus> statuses;
    std::map<PciAddress, std::shared_ptr<Session>> sessions;
    std::multimap<PciAddress, std::shared_ptr<migration::CancelToken>> tokens;
    std::map<PciAddress, std::string> held;
};

/** @brief "STOP_COPY", "P2P", "PRE_COPY" as the bus shows flags. */
std::vector<std::string> migrationFlagNames(migration::Flags flags);

} // namespace vfiod
