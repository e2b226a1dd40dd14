#pragma once

#include "authz.hpp"
#include "service/device_manager.hpp"
#include "method_options.hpp"
#include "migration/migration_engine.hpp"
#include "pending_reply.hpp"
#include "service/policy_enforcer.hpp"

#include <sdbus-c++/Types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vfiod::daemon
{

class ConfigStore;
class LeaseTable;
class PluginDevices;
class UdevRulesWriter;
class WorkerContext;

/** @brief What a device method call carries to its worker. */
struct DeviceRequest
{
    std::string sender; ///< unique bus name of the caller
    PciAddress address;
    std::string what; ///< "Bind 0000:03:00.0", for messages
};

/** @brief A save, load or migrate: what it carries besides the request. */
struct MigrationJob
{
    /// The stream's end (SaveState, LoadState), duplicated from the
    /// message, whose own fd closes with it.
    UniqueFd fd;
    std::optional<PciAddress> target; ///< Migrate's target device
    /// CancelMigration on the device (or Migrate's target) cancels it.
    std::shared_ptr<migration::CancelToken> cancel;
};

/**
 * @brief The worker side of every state-changing call: identify the
 * caller, authorize, run the DeviceManager operation, reply.
 *
 * Each method runs on a worker thread, may block for as long as the kernel
 * does, and answers through its PendingReply exactly once: the error reply
 * of a failure carries the mapped name and the core's message.
 */
class Operations
{
  public:
    using ApplyConfig = std::function<void(const DaemonConfig&)>;
    /// Tells the bus a device's plugin or migration status changed.
    using StatusChanged = std::function<void(const PciAddress&)>;
    /// MigrationProgress(phase, bytes) of a device, already rate-limited.
    using ProgressSink = std::function<void(
        const PciAddress&, const std::string& phase, uint64_t bytes)>;

    using ExplainReply = PendingReply<std::map<std::string, sdbus::Variant>>;

    Operations(DeviceManager& manager, PolicyEnforcer& enforcer,
               UdevRulesWriter& udevRules, const Authorizer& authorizer,
               ConfigStore& config, LeaseTable& leases, ApplyConfig applyConfig,
               PluginDevices& plugins, StatusChanged statusChanged,
               ProgressSink progress);

    void bind(WorkerContext& context, const DeviceRequest& request,
              const BindOptions& options, PendingReply<>& reply);
    void unbind(WorkerContext& context, const DeviceRequest& request,
                PendingReply<>& reply);
    void assign(WorkerContext& context, const DeviceRequest& request,
                const std::string& driver, PendingReply<sdbus::UnixFd>& reply);
    void reattach(WorkerContext& context, const DeviceRequest& request,
                  const std::string& token, PendingReply<sdbus::UnixFd>& reply);
    void release(WorkerContext& context, const DeviceRequest& request,
                 PendingReply<>& reply);
    void reset(WorkerContext& context, const DeviceRequest& request,
               const std::string& method, PendingReply<>& reply);
    void reload(WorkerContext& context, const std::string& sender,
                PendingReply<>& reply);

    /** @brief SetMigrationState: walks to @p state, one arc at a time. */
    void setMigrationState(WorkerContext& context, const DeviceRequest& request,
                           const std::string& state,
                           PendingReply<std::vector<std::string>>& reply);
    /** @brief SaveState: the device's state into job.fd. */
    void saveState(WorkerContext& context, const DeviceRequest& request,
                   MigrationJob& job, PendingReply<>& reply);
    /** @brief LoadState: the device's state from job.fd. */
    void loadState(WorkerContext& context, const DeviceRequest& request,
                   MigrationJob& job, PendingReply<>& reply);
    /** @brief Migrate: the device's state into job.target. */
    void migrate(WorkerContext& context, const DeviceRequest& request,
                 MigrationJob& job, PendingReply<>& reply);
    /** @brief CancelMigration: cancels the save, load or migrate. */
    void cancelMigration(WorkerContext& context, const DeviceRequest& request,
                         PendingReply<>& reply);

    /** @brief Explain: open to every caller, it changes nothing. */
    void explain(const PciAddress& address, ExplainReply& reply);

    /** @brief Applies the policy to one device (it appeared, start-up,
     *  reload) and logs what that did. */
    void applyPolicy(const PciAddress& address);

    /** @brief A lease holder hung up: end its assignment (and only it). */
    void releaseExpired(const PciAddress& address, const std::string& owner);

    /** @brief Applies uevents, in order. */
    void applyUevents(const std::vector<Uevent>& events);

  private:
    Caller authorize(WorkerContext& context, const std::string& sender,
                     Action action,
                     const std::map<std::string, std::string>& details,
                     const std::string& what);
    Caller authorizeDevice(WorkerContext& context, const DeviceRequest& request,
                           Action action);
    void releaseAs(const Caller& caller, const DeviceRequest& request);
    /** Ends the migration session before the device changes hands, and
     *  refuses while a Migrate on another device's lane holds it. */
    void leaveMigration(const DeviceRequest& request);
    void giveBackAfterPrepare(const PciAddress& address);
    std::string bindWithPlugin(const DeviceRequest& request,
                               const std::string& requested, bool wholeGroup);
    void assignWithPlugin(const DeviceRequest& request,
                          const std::string& owner,
                          const std::string& requested,
                          const std::string& token);
    void resetWithPlugin(const DeviceRequest& request,
                         const std::string& method);
    void afterMigration(const PciAddress& address);
    template <typename Body>
    void runMigration(const DeviceRequest& request, MigrationJob& job,
                      const std::vector<PciAddress>& devices, Body&& body);
    void afterRelease(const PciAddress& address);
    /** Creates the lease of a new assignment and replies with its end;
     *  the daemon end is held on the main loop. */
    void handOverLease(const PciAddress& address, const std::string& owner,
                       const std::string& token,
                       PendingReply<sdbus::UnixFd>& reply);

    DeviceManager& manager;
    PolicyEnforcer& enforcer;
    UdevRulesWriter& udevRules;
    const Authorizer& authorizer;
    ConfigStore& config;
    LeaseTable& leases;
    ApplyConfig applyConfig;
    PluginDevices& plugins;
    StatusChanged statusChanged;
    ProgressSink progress;
};

/** @brief Explain's a{sv}. Main loop thread (it creates Variants). */
std::map<std::string, sdbus::Variant> explainReply(const PolicyReport& report);

/** @brief What polkit sees of a device: address, ids, IOMMU group. */
std::map<std::string, std::string> polkitDetails(const DeviceInfo& info);

} // namespace vfiod::daemon
