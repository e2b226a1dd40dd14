#pragma once

#include "authz.hpp"
#include "device_manager.hpp"
#include "method_options.hpp"
#include "pending_reply.hpp"
#include "policy_enforcer.hpp"

#include <sdbus-c++/Types.h>

#include <functional>
#include <string>
#include <vector>

namespace vfiod::daemon
{

class ConfigStore;
class LeaseTable;
class UdevRulesWriter;
class WorkerContext;

/** @brief What a device method call carries to its worker. */
struct DeviceRequest
{
    std::string sender; ///< unique bus name of the caller
    PciAddress address;
    std::string what; ///< "Bind 0000:03:00.0", for messages
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

    using ExplainReply = PendingReply<std::map<std::string, sdbus::Variant>>;

    Operations(DeviceManager& manager, PolicyEnforcer& enforcer,
               UdevRulesWriter& udevRules, const Authorizer& authorizer,
               ConfigStore& config, LeaseTable& leases,
               ApplyConfig applyConfig);

    void bind(WorkerContext& context, const DeviceRequest& request,
              const BindOptions& options, PendingReply<>& reply);
    void unbind(WorkerContext& context, const DeviceRequest& request,
                PendingReply<>& reply);
    void assign(WorkerContext& context, const DeviceRequest& request,
                const std::string& driver, PendingReply<sdbus::UnixFd>& reply);
    void release(WorkerContext& context, const DeviceRequest& request,
                 PendingReply<>& reply);
    void reset(WorkerContext& context, const DeviceRequest& request,
               const std::string& method, PendingReply<>& reply);
    void reload(WorkerContext& context, const std::string& sender,
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
    void afterRelease(const PciAddress& address);
    /** Creates the lease of a new assignment and replies with its end;
     *  the daemon end is held on the main loop. */
    void handOverLease(const PciAddress& address, const std::string& owner,
                       PendingReply<sdbus::UnixFd>& reply);

    DeviceManager& manager;
    PolicyEnforcer& enforcer;
    UdevRulesWriter& udevRules;
    const Authorizer& authorizer;
    ConfigStore& config;
    LeaseTable& leases;
    ApplyConfig applyConfig;
};

/** @brief Explain's a{sv}. Main loop thread (it creates Variants). */
std::map<std::string, sdbus::Variant> explainReply(const PolicyReport& report);

/** @brief What polkit sees of a device: address, ids, IOMMU group. */
std::map<std::string, std::string> polkitDetails(const DeviceInfo& info);

} // namespace vfiod::daemon
