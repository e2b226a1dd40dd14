#include "requests.hpp"

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

Requests::Requests(MainLoop& loop, WorkerPool& pool, Operations& operations,
                   DeviceService& service) :
    loop(loop),
    pool(pool), operations(operations), service(service)
{}

void Requests::bind(DeviceRequest request, BindOptions options,
                    sdbus::Result<>&& result)
{
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane, [this, request = std::move(request),
                       options = std::move(options),
                       reply = std::move(reply)](WorkerContext& c) mutable {
        operations.bind(c, request, options, reply);
    });
}

void Requests::unbind(DeviceRequest request, sdbus::Result<>&& result)
{
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane, [this, request = std::move(request),
                       reply = std::move(reply)](WorkerContext& c) mutable {
        operations.unbind(c, request, reply);
    });
}

void Requests::assign(DeviceRequest request, std::string driver,
                      sdbus::Result<sdbus::UnixFd>&& result)
{
    std::string lane = request.address.str();
    PendingReply<sdbus::UnixFd> reply(std::move(result), loop, request.what);
    pool.submit(lane,
                [this, request = std::move(request), driver = std::move(driver),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.assign(c, request, driver, reply);
                });
}

void Requests::reattach(DeviceRequest request, std::string token,
                        sdbus::Result<sdbus::UnixFd>&& result)
{
    std::string lane = request.address.str();
    PendingReply<sdbus::UnixFd> reply(std::move(result), loop, request.what);
    pool.submit(lane,
                [this, request = std::move(request), token = std::move(token),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.reattach(c, request, token, reply);
                });
}

void Requests::release(DeviceRequest request, sdbus::Result<>&& result)
{
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane, [this, request = std::move(request),
                       reply = std::move(reply)](WorkerContext& c) mutable {
        operations.release(c, request, reply);
    });
}

void Requests::reset(DeviceRequest request, std::string method,
                     sdbus::Result<>&& result)
{
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane,
                [this, request = std::move(request), method = std::move(method),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.reset(c, request, method, reply);
                });
}

void Requests::reload(std::string sender, sdbus::Result<>&& result)
{
    PendingReply<> reply(std::move(result), loop, "Reload");
    pool.submit(managerLane,
                [this, sender = std::move(sender),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.reload(c, sender, reply);
                });
}

void Requests::setMigrationState(
    DeviceRequest request, std::string state,
    sdbus::Result<std::vector<std::string>>&& result)
{
    std::string lane = request.address.str();
    PendingReply<std::vector<std::string>> reply(std::move(result), loop,
                                                 request.what);
    pool.submit(lane,
                [this, request = std::move(request), state = std::move(state),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.setMigrationState(c, request, state, reply);
                });
}

void Requests::submitMigration(DeviceRequest request, MigrationJob job,
                               sdbus::Result<>&& result,
                               void (DeviceService::*run)(const Request&,
                                                          MigrationJob&))
{
    std::vector<PciAddress> devices{request.address};
    if (job.target)
    {
        devices.push_back(*job.target);
    }
    job.cancel = service.queueMigration(devices);
    std::string lane = request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane,
                [this, run, request = std::move(request), job = std::move(job),
                 reply = std::move(reply)](WorkerContext& c) mutable {
                    operations.stream(c, request, job, run, reply);
                    service.unqueueMigration(job.cancel);
                });
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
    std::string lane = "cancel " + request.address.str();
    PendingReply<> reply(std::move(result), loop, request.what);
    pool.submit(lane, [this, request = std::move(request),
                       reply = std::move(reply)](WorkerContext& c) mutable {
        operations.cancelMigration(c, request, reply);
    });
}

void Requests::explain(
    PciAddress address,
    sdbus::Result<std::map<std::string, sdbus::Variant>>&& result)
{
    Operations::ExplainReply reply(std::move(result), loop,
                                   "Explain " + address.str());
    pool.submit(address.str(), [this, address, reply = std::move(reply)](
                                   WorkerContext&) mutable {
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
