#include "requests.hpp"

#include "request_log.hpp"
#include "worker_pool.hpp"

namespace vfiod::daemon
{

namespace
{

/// Lane of Reload; device lanes are named by address.
constexpr auto managerLane = "manager";
/// Lane of uevents: applied in the order the kernel sent them.
constexpr auto ueventLane = "uevents";

} // namespace

Requests::Requests(MainLoop& loop, WorkerPool& pool, WorkerPool& authPool,
                   CallLimits& limits, Operations& operations,
                   DeviceService& service) :
    loop(loop),
    pool(pool), authPool(authPool), limits(limits), operations(operations),
    service(service)
{}

void Requests::admit(DeviceRequest& request, bool carriesFd)
{
    if (!request.callerSlot)
    {
        request.callerSlot =
            limits.enterCaller(request.sender, carriesFd, request.what);
    }
}

template <typename Reply, typename Run>
void Requests::authorized(DeviceRequest request, std::string lane, Reply reply,
                          Run run, std::optional<PciAddress> target)
{
    std::string key = "sender " + request.sender;
    authPool.submit(
        key, [this, call = Call<Reply, Run>{std::move(request), std::move(lane),
                                            std::move(reply), std::move(run),
                                            target}](WorkerContext& c) mutable {
            identify(c, std::move(call));
        });
}

template <typename Reply, typename Run>
void Requests::identify(WorkerContext& context, Call<Reply, Run> call)
{
    bool identified = false;
    answer(call.reply, [&] {
        call.request.authorized = operations.identify(
            context, call.request.sender, call.request.what);
        identified = true;
    });
    if (!identified)
    {
        return;
    }
    const Caller caller = *call.request.authorized;
    if (operations.isPrivileged(caller))
    {
        authorize(context, std::move(call)); // polkit is not asked
        return;
    }
    // One lane per uid: however many connections a user opens, its calls
    // wait for polkit one after another, and hold one thread at most.
    authPool.submit("uid " + std::to_string(caller.uid),
                    [this, call = std::move(call)](WorkerContext& c) mutable {
                        authorize(c, std::move(call));
                    });
}

template <typename Reply, typename Run>
void Requests::authorize(WorkerContext& context, Call<Reply, Run> call)
{
    bool allowed = false;
    answer(call.reply, [&] {
        operations.authorizeCall(context, call.request, call.target);
        call.request.laneSlot = limits.enterLane(
            call.lane, operations.isPrivileged(*call.request.authorized),
            call.request.what);
        allowed = true;
    });
    if (!allowed)
    {
        return;
    }
    std::string lane = call.lane;
    pool.submit(lane, [call = std::move(call)](WorkerContext& c) mutable {
        call.run(c, call.request, call.reply);
    });
}

void Requests::bind(DeviceRequest request, BindOptions options,
                    sdbus::Result<>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(std::move(request), lane, std::move(reply),
               [this, options = std::move(options)](
                   WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) {
                   operations.bind(c, r, options, reply);
               });
}

void Requests::unbind(DeviceRequest request, sdbus::Result<>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this](WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) {
            operations.unbind(c, r, reply);
        });
}

void Requests::assign(DeviceRequest request, std::string driver,
                      sdbus::Result<sdbus::UnixFd>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<sdbus::UnixFd> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this, driver = std::move(driver)](WorkerContext& c, DeviceRequest& r,
                                           PendingReply<sdbus::UnixFd>& reply) {
            operations.assign(c, r, driver, reply);
        });
}

void Requests::reattach(DeviceRequest request, std::string token,
                        sdbus::Result<sdbus::UnixFd>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<sdbus::UnixFd> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this, token = std::move(token)](WorkerContext& c, DeviceRequest& r,
                                         PendingReply<sdbus::UnixFd>& reply) {
            operations.reattach(c, r, token, reply);
        });
}

void Requests::release(DeviceRequest request, sdbus::Result<>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this](WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) {
            operations.release(c, r, reply);
        });
}

void Requests::reset(DeviceRequest request, std::string method,
                     sdbus::Result<>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(std::move(request), lane, std::move(reply),
               [this, method = std::move(method)](
                   WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) {
                   operations.reset(c, r, method, reply);
               });
}

void Requests::reload(std::string sender, sdbus::Result<>&& result)
{
    CallLimits::Slot slot = limits.enterCaller(sender, false, "Reload");
    PendingReply<> reply(std::move(result), loop, "Reload");
    pool.submit(managerLane,
                [this, sender = std::move(sender), reply = std::move(reply),
                 slot = std::move(slot)](WorkerContext& c) mutable {
                    operations.reload(c, sender, reply);
                });
}

void Requests::setMigrationState(
    DeviceRequest request, std::string state,
    sdbus::Result<std::vector<std::string>>&& result)
{
    admit(request);
    std::string lane = request.address.str();
    PendingReply<std::vector<std::string>> reply(std::move(result), loop,
                                                 request.what);
    authorized(std::move(request), lane, std::move(reply),
               [this, state = std::move(state)](
                   WorkerContext& c, DeviceRequest& r,
                   PendingReply<std::vector<std::string>>& reply) {
                   operations.setMigrationState(c, r, state, reply);
               });
}

void Requests::submitMigration(DeviceRequest request, MigrationJob job,
                               sdbus::Result<>&& result,
                               void (DeviceService::*run)(const Request&,
                                                          MigrationJob&))
{
    admit(request, static_cast<bool>(job.fd));
    std::vector<PciAddress> devices{request.address};
    if (job.target)
    {
        devices.push_back(*job.target);
    }
    job.cancel = service.queueMigration(devices);
    // Unqueued however the call ends: refused before it ran, or done.
    std::shared_ptr<void> queued(nullptr, [this, token = job.cancel](void*) {
        service.unqueueMigration(token);
    });
    std::optional<PciAddress> target = job.target;
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this, run, job = std::move(job), queued = std::move(queued)](
            WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) mutable {
            operations.stream(c, r, job, run, reply);
        },
        target);
}

void Requests::saveState(DeviceRequest request, UniqueFd fd,
                         sdbus::Result<>&& result)
{
    MigrationJob job;
    job.fd = std::move(fd);
    submitMigration(std::move(request), std::move(job), std::move(result),
                    &DeviceService::saveState);
}

void Requests::loadState(DeviceRequest request, UniqueFd fd,
                         sdbus::Result<>&& result)
{
    MigrationJob job;
    job.fd = std::move(fd);
    submitMigration(std::move(request), std::move(job), std::move(result),
                    &DeviceService::loadState);
}

void Requests::migrate(DeviceRequest request, PciAddress target,
                       sdbus::Result<>&& result)
{
    MigrationJob job;
    job.target = target;
    submitMigration(std::move(request), std::move(job), std::move(result),
                    &DeviceService::migrate);
}

void Requests::cancelMigration(DeviceRequest request, sdbus::Result<>&& result)
{
    admit(request);
    // A lane of its own: it must not wait behind the job it cancels.
    std::string lane = "cancel " + request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    authorized(
        std::move(request), lane, std::move(reply),
        [this](WorkerContext& c, DeviceRequest& r, PendingReply<>& reply) {
            operations.cancelMigration(c, r, reply);
        });
}

void Requests::explain(
    const std::string& sender, PciAddress address,
    sdbus::Result<std::map<std::string, sdbus::Variant>>&& result)
{
    std::string what = "Explain " + address.str();
    std::string lane = address.str();
    // Not authorized, so nobody is known to be privileged: it may be
    // refused for a full device lane, and never takes root's share.
    std::vector<CallLimits::Slot> slots{limits.enterCaller(sender, false, what),
                                        limits.enterLane(lane, false, what)};
    Operations::ExplainReply reply(std::move(result), loop, what);
    pool.submit(lane, [this, address, reply = std::move(reply),
                       slots = std::move(slots)](WorkerContext&) mutable {
        operations.explain(address, reply);
    });
}

void Requests::applyPolicy(const PciAddress& address)
{
    pool.submit(address.str(), [this, address](WorkerContext&) {
        operations.applyPolicy(address);
    });
}

void Requests::leaseExpired(const PciAddress& address, const std::string& owner)
{
    pool.submit(address.str(), [this, address, owner](WorkerContext&) {
        operations.releaseExpired(address, owner);
    });
}

void Requests::uevents(std::vector<Uevent> events)
{
    pool.submit(ueventLane, [this, events = std::move(events)](WorkerContext&) {
        for (const PciAddress& added : service.applyUevents(events))
        {
            applyPolicy(added);
        }
    });
}

} // namespace vfiod::daemon
