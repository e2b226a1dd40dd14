#pragma once

#include "call_limits.hpp"
#include "operations.hpp"

#include <sdbus-c++/MethodResult.h>

#include <optional>
#include <string>

namespace vfiod::daemon
{

class MainLoop;
class WorkerContext;
class WorkerPool;

/**
 * @brief The dispatcher side of the asynchronous methods: wraps the
 * sdbus::Result in its reply guard and queues the call for a worker, in
 * the device's lane, so that calls on one device run in order and a slow
 * one never holds up another device. Main loop thread only; never blocks.
 *
 * A device call goes through two stages. First it is authorized, on
 * @p authPool: the caller is identified on a lane of its bus connection,
 * then polkit is asked on a lane of its uid (a privileged caller is not
 * asked and skips that lane). Only an authorized call is queued on the
 * device's lane, in @p pool: a flood of calls from one user occupies at
 * most one authorization thread and never sits in front of another
 * caller's call on the device. Every call counts against its caller's
 * limit, an authorized one against its device's (CallLimits); a call past
 * a limit is answered LimitsExceeded at once.
 */
class Requests
{
  public:
    Requests(MainLoop& loop, WorkerPool& pool, WorkerPool& authPool,
             CallLimits& limits, Operations& operations,
             DeviceService& service);

    /**
     * @brief Counts @p request against its caller's limit, unless it is
     * already counted. The methods below call it; SaveState and LoadState
     * call it before vfiod duplicates their descriptor (@p carriesFd).
     * @throws Error(LimitsExceeded) (the caller gets it as the reply).
     */
    void admit(DeviceRequest& request, bool carriesFd = false);

    void bind(DeviceRequest request, BindOptions options,
              sdbus::Result<>&& result);
    void unbind(DeviceRequest request, sdbus::Result<>&& result);
    void assign(DeviceRequest request, std::string driver,
                sdbus::Result<sdbus::UnixFd>&& result);
    void reattach(DeviceRequest request, std::string token,
                  sdbus::Result<sdbus::UnixFd>&& result);
    void release(DeviceRequest request, sdbus::Result<>&& result);
    void reset(DeviceRequest request, std::string method,
               sdbus::Result<>&& result);
    void reload(std::string sender, sdbus::Result<>&& result);

    void setMigrationState(DeviceRequest request, std::string state,
                           sdbus::Result<std::vector<std::string>>&& result);
    /**
     * @brief SaveState, LoadState: @p fd is vfiod's own duplicate of the
     * message's fd. The job is cancellable (CancelMigration) as soon as
     * it is queued.
     */
    void saveState(DeviceRequest request, UniqueFd fd,
                   sdbus::Result<>&& result);
    void loadState(DeviceRequest request, UniqueFd fd,
                   sdbus::Result<>&& result);
    /** @brief Migrate, on the source's lane; the target is held by it. */
    void migrate(DeviceRequest request, PciAddress target,
                 sdbus::Result<>&& result);
    /**
     * @brief CancelMigration, on a lane of its own per device: it must not
     * wait behind the save it cancels.
     */
    void cancelMigration(DeviceRequest request, sdbus::Result<>&& result);
    /** @brief Explain, open to every caller: on the device's lane, counted
     *  against the caller's and (as an unprivileged call) the lane's
     *  limits. */
    void explain(const std::string& sender, PciAddress address,
                 sdbus::Result<std::map<std::string, sdbus::Variant>>&& result);

    /** @brief Applies the policy to a device, on its lane. */
    void applyPolicy(const PciAddress& address);

    /** @brief A lease hung up: release on the device's lane. */
    void leaseExpired(const PciAddress& address, const std::string& owner);

    /**
     * @brief Uevents, applied in order on a lane of their own; a device
     * that appeared then gets the policy applied on its own lane, so one
     * slow bind never holds up the events of the others.
     */
    void uevents(std::vector<Uevent> events);

  private:
    /** @brief A device call on its way through the stages. */
    template <typename Reply, typename Run>
    struct Call
    {
        DeviceRequest request;
        std::string lane; ///< where it runs once authorized
        Reply reply;
        Run run; ///< run(context, request, reply), on the lane
        std::optional<PciAddress> target; ///< Migrate's, authorized too
    };

    /**
     * @brief The two stages: authorizes @p request (and @p target) on
     * authPool, then runs @p run(context, request, reply) on @p lane.
     */
    template <typename Reply, typename Run>
    void authorized(DeviceRequest request, std::string lane, Reply reply,
                    Run run, std::optional<PciAddress> target = {});
    /** @brief On the caller's lane: who it is. */
    template <typename Reply, typename Run>
    void identify(WorkerContext& context, Call<Reply, Run> call);
    /** @brief On the caller's uid lane (privileged: still the caller's
     *  lane): may it; then counted against the device and queued there. */
    template <typename Reply, typename Run>
    void authorize(WorkerContext& context, Call<Reply, Run> call);

    void submitMigration(DeviceRequest request, MigrationJob job,
                         sdbus::Result<>&& result,
                         void (DeviceService::*run)(const Request&,
                                                    MigrationJob&));

    MainLoop& loop;
    WorkerPool& pool;
    WorkerPool& authPool;
    CallLimits& limits;
    Operations& operations;
    DeviceService& service;
};

} // namespace vfiod::daemon
