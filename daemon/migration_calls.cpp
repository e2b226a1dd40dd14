// The migration methods of Operations: SetMigrationState, the three stream
// jobs (SaveState, LoadState, Migrate) through one body, CancelMigration.
#include "config_store.hpp"
#include "operations.hpp"
#include "request_log.hpp"

#include <chrono>
#include <mutex>

namespace vfiod::daemon
{

namespace
{

/** @brief MigrationProgress at a bounded rate: phase changes at once,
 *  bytes at most every 200 ms. Called from the save and load threads. */
class ProgressThrottle
{
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto interval = std::chrono::milliseconds(200);

    ProgressThrottle(PciAddress address, Operations::ProgressSink sink) :
        address(address), sink(std::move(sink))
    {}

    void operator()(const migration::Progress& progress)
    {
        std::lock_guard lock(mutex);
        Clock::time_point now = Clock::now();
        if (progress.phase == phase && now - last < interval)
        {
            pending = progress.bytes;
            return;
        }
        phase = progress.phase;
        last = now;
        pending.reset();
        sink(address, phase, progress.bytes);
    }

    /** @brief The last bytes held back, so that a client sees the total. */
    void flush()
    {
        std::lock_guard lock(mutex);
        if (pending)
        {
            sink(address, phase, *pending);
            pending.reset();
        }
    }

  private:
    PciAddress address;
    Operations::ProgressSink sink;
    std::mutex mutex;
    std::string phase;
    Clock::time_point last;
    std::optional<uint64_t> pending;
};

} // namespace

void Operations::setMigrationState(
    WorkerContext& context, const DeviceRequest& request,
    const std::string& state, PendingReply<std::vector<std::string>>& reply)
{
    answer(
        reply,
        [&] {
            // Authorized first: the state name is the caller's text, and
            // the refusal of a bad one is logged with it; a caller who may
            // not migrate the device gets AccessDenied and leaves nothing
            // of what it sent in the log. The core service refuses an
            // unknown state before it touches the device.
            Caller caller = authorizeDevice(context, request);
            requireOwnerOrRoot(caller, request);
            std::vector<std::string> path =
                service.setMigrationState(request, state);
            logDone(request.what, caller);
            reply.succeed(std::move(path));
        },
        currentMigrationBusError);
}

void Operations::stream(WorkerContext& context, const DeviceRequest& request,
                        MigrationJob& job,
                        void (DeviceService::*run)(const Request&,
                                                   MigrationJob&),
                        PendingReply<>& reply)
{
    answer(
        reply,
        [&] {
            Caller caller = authorizeDevice(context, request);
            requireOwnerOrRoot(caller, request);
            if (job.target)
            {
                DeviceRequest onTarget = request;
                onTarget.address = *job.target;
                authorizeDevice(context, onTarget);
                requireOwnerOrRoot(caller, onTarget);
            }
            ProgressThrottle throttle(request.address, progress);
            job.progress = std::ref(throttle);
            job.idleTimeout = config.current().migrationIdle;
            (service.*run)(request, job);
            throttle.flush();
            logDone(request.what, caller);
            reply.succeed();
        },
        currentMigrationBusError);
}

void Operations::cancelMigration(WorkerContext& context,
                                 const DeviceRequest& request,
                                 PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        requireOwnerOrRoot(caller, request);
        service.cancelMigration(request);
        logDone(request.what, caller);
        reply.succeed();
    });
}

} // namespace vfiod::daemon
