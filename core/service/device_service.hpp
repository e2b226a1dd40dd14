#pragma once

#include "base/fd.hpp"
#include "base/notice.hpp"
#include "ledger/ledger.hpp"
#include "migration/migration_engine.hpp"
#include "plugin/plugin_host.hpp"
#include "service/device_manager.hpp"
#include "service/plugin_devices.hpp"
#include "service/policy_enforcer.hpp"
#include "service/request.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vfiod
{

/** @brief What the core service is built from. */
struct ServiceOptions
{
    ManagerOptions manager;
    PluginHostConfig plugins;
    /// The state directory: the ledger in state_dir/devices, and the
    /// plugin call markers and quarantine (unless plugins.stateDir says
    /// otherwise); "" keeps no ledger.
    std::string ledgerDir;
};

/** @brief A save, load or migrate: what it carries besides the request. */
struct MigrationJob
{
    /// The stream's end (SaveState, LoadState); closed as soon as the
    /// stream is complete, so that the reader sees its end.
    UniqueFd fd;
    std::optional<PciAddress> target; ///< Migrate's target device
    /// Cancelling it (CancelMigration on the device or Migrate's target)
    /// cancels the job; from queueMigration().
    std::shared_ptr<migration::CancelToken> cancel;
    /// Told how far the stream got; from the thread that moves it.
    std::function<void(const migration::Progress&)> progress;
    /// A client that moves no data through fd for this long fails the job
    /// (TimedOut) and the device is walked back; 0: no limit.
    std::chrono::milliseconds idleTimeout{0};
};

/**
 * @brief The core service: the device registry (DeviceManager), the
 * ledger, the plugin host and each device's plugin, and the policy
 * enforcer, with every operation on a device.
 *
 * An operation runs its plugin hooks and the kernel sequence under one
 * hold of the device's IOMMU group: prepare → kernel sequence → cleanup,
 * so another request on the same group waits (or gets Busy after the
 * group wait) and never interleaves, while other groups go on.
 *
 * Operations block (the kernel, the plugins) and are meant for worker
 * threads; they throw Error (MigrationFailure for save, load, migrate)
 * with a message that starts with the request's words. Thread-safe.
 */
class DeviceService
{
  public:
    /// A device's plugin or migration status changed (Device.Plugin,
    /// MigrationFlags, MigrationState).
    using StatusListener = std::function<void(const PciAddress&)>;

    DeviceService(KernelHost& host, ServiceOptions options, NoticeSink notices);
    ~DeviceService();

    DeviceService(const DeviceService&) = delete;
    DeviceService& operator=(const DeviceService&) = delete;

    /** @brief Registers who hears of status changes; before serving. */
    void onStatusChange(StatusListener listener);

    DeviceManager& registry() noexcept
    {
        return manager;
    }
    const DeviceManager& registry() const noexcept
    {
        return manager;
    }
    PolicyEnforcer& policy() noexcept
    {
        return enforcer;
    }
    const PolicyEnforcer& policy() const noexcept
    {
        return enforcer;
    }
    PluginDevices& plugins() noexcept
    {
        return pluginDevices;
    }
    const PluginDevices& plugins() const noexcept
    {
        return pluginDevices;
    }
    /** @brief Whether devices are recorded across restarts. */
    bool keepsLedger() const noexcept
    {
        return ledger != nullptr;
    }

    /**
     * @brief Binds to vfio through the device's plugin: its choice of
     * driver (before modules.alias), its prepare and cleanup around a
     * real move. @p driver "" picks. @return the vfio driver used.
     */
    std::string bind(const Request& request, const std::string& driver,
                     bool wholeGroup);

    /**
     * @brief Gives the device back to its original driver. A device vfiod
     * never took (no driver, no vfio override, no original driver on
     * record) is left as it is: there is nothing to give back.
     */
    void unbind(const Request& request);

    /**
     * @brief Binds when needed (with the bind hooks), then assigns to
     * @p owner with the assign hooks around it.
     */
    void assign(const Request& request, const std::string& owner,
                const std::string& driver, const std::string& leaseToken);

    /** @brief See DeviceManager::reattach. */
    void reattach(const Request& request, const std::string& token,
                  const std::string& newOwner);

    /**
     * @brief Ends an assignment (@p owner "" ends anyone's), then carries
     * out the policy's on-release steps. @return what those did.
     */
    PolicyOutcome release(const Request& request, const std::string& owner);

    /**
     * @brief The holder of @p owner's lease hung up: its assignment ends
     * (and only its), with the on-release steps, even while a migration
     * job holds the device. @throws Error(NotFound, Busy) when the device
     * is no longer assigned to @p owner.
     */
    PolicyOutcome releaseClosedLease(const PciAddress& address,
                                     const std::string& owner);

    /**
     * @brief Resets through the device's plugin when it has its own
     * reset, through sysfs otherwise. @p method "" uses the policy's
     * preferred method, or the kernel's order.
     */
    void reset(const Request& request, const std::string& method);

    /**
     * @brief Walks the device's migration state to @p state, one arc at a
     * time. @return the states passed through.
     * @throws Error(InvalidArgument) for an unknown state name.
     */
    std::vector<std::string> setMigrationState(const Request& request,
                                               const std::string& state);

    /**
     * @brief Registers a save, load or migrate as queued on @p devices:
     * CancelMigration on any of them cancels it from now on, even before
     * it runs. Never blocks.
     */
    std::shared_ptr<migration::CancelToken>
        queueMigration(const std::vector<PciAddress>& devices);

    /** @brief The job of @p token is over, whether it ran or was refused
     *  before it started. Idempotent. */
    void unqueueMigration(const std::shared_ptr<migration::CancelToken>& token);

    /** @brief SaveState: the device's state into job.fd. */
    void saveState(const Request& request, MigrationJob& job);
    /** @brief LoadState: the device's state from job.fd. */
    void loadState(const Request& request, MigrationJob& job);
    /** @brief Migrate: the device's state into job.target. */
    void migrate(const Request& request, MigrationJob& job);
    /**
     * @brief Cancels the save, load or migrate running or queued on the
     * device. @throws Error(NotFound) when there is none.
     */
    void cancelMigration(const Request& request);

    /**
     * @brief Applies the policy to one device (it appeared, start-up,
     * reload): binds, quiets SR-IOV autoprobe, chooses its plugin.
     */
    PolicyOutcome applyPolicy(const PciAddress& address);

    /** @brief Replaces the policy in force. */
    void setPolicy(std::shared_ptr<const Policy> policy);

    /** @brief Explain: the rule of a device and what vfiod does with it. */
    PolicyReport explain(const PciAddress& address) const;

    /**
     * @brief Feeds uevents in, in order: devices appear, change, vanish.
     * @return the devices of "add" events, for the policy.
     */
    std::vector<PciAddress> applyUevents(const std::vector<Uevent>& events);

  private:
    static bool neverTaken(const DeviceInfo& info);
    void statusChanged(const PciAddress& address);
    void leaveMigration(const Request& request);
    /** @throws Error(InUse) unless @p request forces. */
    void requireNotHeldUnlessForced(const Request& request);
    static std::string driverFor(std::optional<PluginDevice>& plugin,
                                 const std::string& requested);
    std::string bindHeld(const Request& request,
                         std::optional<PluginDevice>& plugin,
                         const std::string& driver, bool wholeGroup);
    void giveBackAfterPrepare(const PciAddress& address);
    PolicyOutcome endAssignment(const PciAddress& address,
                                const std::string& owner);
    void afterMigration(const PciAddress& address);
    template <typename Body>
    void runStream(const Request& request, MigrationJob& job,
                   const std::vector<PciAddress>& devices, Body&& body);

    NoticeSink notices;
    /// Calls blocked past their caller, in the kernel or in a plugin:
    /// every operation is refused with Busy while one runs on its device.
    std::shared_ptr<StuckDevices> stuck;
    std::unique_ptr<Ledger> ledger;
    DeviceManager manager;
    PolicyEnforcer enforcer;
    PluginHost pluginHost;
    PluginDevices pluginDevices;
    std::vector<StatusListener> listeners;
};

} // namespace vfiod
