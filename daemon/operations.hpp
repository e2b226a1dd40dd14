#pragma once

#include "authz.hpp"
#include "method_options.hpp"
#include "pending_reply.hpp"
#include "service/device_service.hpp"

#include <sdbus-c++/Types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vfiod::daemon
{

class ConfigStore;
class LeaseTable;
class UdevRulesWriter;
class WorkerContext;

/** @brief What a device method call carries to its worker. */
struct DeviceRequest : Request
{
    std::string sender; ///< unique bus name of the caller
    std::string method; ///< "Bind": what the authorization table is asked
    /// Set by the authorization stage (Requests): who called, already
    /// allowed to make this call; the operation does not ask again.
    std::optional<Caller> authorized;
    /// Held while the call is pending: it counts against the caller's
    /// and the device lane's limits (CallLimits) until it is gone.
    std::shared_ptr<void> callerSlot;
    std::shared_ptr<void> laneSlot;
};

/**
 * @brief The worker side of every state-changing call: identify the
 * caller, authorize through the one table (authz_table.hpp), forward to
 * the core service in one line, reply.
 *
 * Each method runs on a worker thread, may block for as long as the kernel
 * does, and answers through its PendingReply exactly once: the error reply
 * of a failure carries the mapped name and the core's message.
 */
class Operations
{
  public:
    using ApplyConfig = std::function<void(const DaemonConfig&)>;
    /// MigrationProgress(phase, bytes) of a device, already rate-limited.
    using ProgressSink = std::function<void(
        const PciAddress&, const std::string& phase, uint64_t bytes)>;

    using ExplainReply = PendingReply<std::map<std::string, sdbus::Variant>>;

    Operations(DeviceService& service, UdevRulesWriter& udevRules,
               const Authorizer& authorizer, ConfigStore& config,
               LeaseTable& leases, ApplyConfig applyConfig,
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
    /** @brief SaveState, LoadState, Migrate: a stream job of the service
     *  (@p run), with MigrationProgress at a bounded rate. */
    void stream(WorkerContext& context, const DeviceRequest& request,
                MigrationJob& job,
                void (DeviceService::*run)(const Request&, MigrationJob&),
                PendingReply<>& reply);
    /** @brief CancelMigration: cancels the save, load or migrate. */
    void cancelMigration(WorkerContext& context, const DeviceRequest& request,
                         PendingReply<>& reply);

    /**
     * @brief The authorization stage, part one: who @p sender is (the
     * bus driver's answer, never the caller's word).
     * @throws Error(AccessDenied) when the bus cannot tell.
     */
    Caller identify(WorkerContext& context, const std::string& sender,
                    const std::string& what);
    /**
     * @brief Part two: whether request.authorized may make the call on
     * the device, and on @p target (Migrate's), through the authorization
     * table and polkit.
     * @throws Error(NotFound, AccessDenied)
     */
    void authorizeCall(WorkerContext& context, const DeviceRequest& request,
                       const std::optional<PciAddress>& target);
    /** @brief Root or named in [access]: polkit is not asked. */
    bool isPrivileged(const Caller& caller) const;

    /** @brief Explain: open to every caller, it changes nothing. */
    void explain(const PciAddress& address, ExplainReply& reply);

    /** @brief Applies the policy to one device (it appeared, start-up,
     *  reload) and logs what that did. */
    void applyPolicy(const PciAddress& address);

    /** @brief A lease holder hung up: end its assignment (and only it). */
    void releaseExpired(const PciAddress& address, const std::string& owner);

  private:
    Caller authorize(WorkerContext& context, const std::string& sender,
                     const std::string& method,
                     const std::map<std::string, std::string>& details,
                     const std::string& what);
    /** Asks the table and polkit whether @p caller may. */
    void check(WorkerContext& context, const Caller& caller,
               const std::string& method,
               const std::map<std::string, std::string>& details,
               const std::string& what);
    /** The caller of a device request: the one the authorization stage
     *  let through (else asked now); NotFound when the device is gone. */
    Caller authorizeDevice(WorkerContext& context,
                           const DeviceRequest& request);
    std::string releasingOwner(const Caller& caller,
                               const DeviceRequest& request);
    /** While the device is assigned, only its owner's uid or root may
     *  reset it or move its state. */
    void requireOwnerOrRoot(const Caller& caller,
                            const DeviceRequest& request) const;
    /** Creates the lease of a new assignment and replies with its end;
     *  the daemon end is held on the main loop. */
    void handOverLease(const PciAddress& address, const std::string& owner,
                       const std::string& token,
                       PendingReply<sdbus::UnixFd>& reply);

    DeviceService& service;
    UdevRulesWriter& udevRules;
    const Authorizer& authorizer;
    ConfigStore& config;
    LeaseTable& leases;
    ApplyConfig applyConfig;
    ProgressSink progress;
};

/** @brief Explain's a{sv}. Main loop thread (it creates Variants). */
std::map<std::string, sdbus::Variant> explainReply(const PolicyReport& report);

/** @brief What polkit sees of a device: address, ids, IOMMU group. */
std::map<std::string, std::string> polkitDetails(const DeviceInfo& info);

/** @brief Logs what applying the policy did, a line per note. */
void logOutcome(const PolicyOutcome& outcome);

} // namespace vfiod::daemon
