#include "binding/kernel_call.hpp"

#include "base/errno_map.hpp"
#include "base/error.hpp"
#include "base/spare_threads.hpp"
#include "kernel/kernel_host.hpp"

#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace vfiod
{

namespace
{

/** Shared between the caller and a call that may outlive it. */
struct CallState
{
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    std::exception_ptr error;
};

void runAndSignal(const std::shared_ptr<CallState>& state,
                  const std::function<void()>& call)
{
    std::exception_ptr error;
    try
    {
        call();
    }
    catch (...)
    {
        error = std::current_exception();
    }
    std::lock_guard lock(state->mutex);
    state->error = error;
    state->finished = true;
    state->done.notify_all();
}

std::string errnoText(int code)
{
    const char* desc = strerrordesc_np(code);
    const char* name = strerrorname_np(code);
    return std::string(desc ? desc : "unknown error") + " (" +
           (name ? name : std::to_string(code).c_str()) + ")";
}

} // namespace

void runWithTimeout(const std::function<void()>& call,
                    std::chrono::milliseconds timeout, const std::string& what)
{
    auto state = std::make_shared<CallState>();
    runOnSpareThread([state, call] { runAndSignal(state, call); });

    std::unique_lock lock(state->mutex);
    if (!state->done.wait_for(lock, timeout,
                              [&state] { return state->finished; }))
    {
        fail(Errc::TimedOut,
             what + " did not complete within " +
                 std::to_string(timeout.count()) +
                 " ms; the kernel is still waiting (a process probably "
                 "holds the device open)");
    }
    if (state->error)
    {
        std::rethrow_exception(state->error);
    }
}

void failKernelWrite(const std::system_error& e, const PciAddress& address,
                     const std::string& what)
{
    int code = e.code().value();
    std::string message =
        what + " failed for " + address.str() + ": " + errnoText(code);
    Errc errc = errcOfErrno(code, ErrnoFrom::Kernel);
    if (errc == Errc::NotFound)
    {
        message += "; the device or driver vanished";
    }
    fail(errc, message);
}

KernelCalls::KernelCalls(KernelHost& host,
                         std::shared_ptr<StuckDevices> stuckDevices) :
    host(host),
    stuck(stuckDevices ? std::move(stuckDevices)
                       : std::make_shared<StuckDevices>())
{}

KernelCalls::~KernelCalls() = default;

void KernelCalls::write(const PciAddress& address, const std::string& path,
                        const std::string& value,
                        std::chrono::milliseconds timeout,
                        const std::string& what)
{
    KernelHost* kernel = &host;
    try
    {
        run(
            address, [kernel, path, value] { kernel->write(path, value); },
            timeout, what);
    }
    catch (const std::system_error& e)
    {
        failKernelWrite(e, address, what);
    }
}

void KernelCalls::run(const PciAddress& address,
                      const std::function<void()>& call,
                      std::chrono::milliseconds timeout,
                      const std::string& what)
{
    // The call clears its own mark whenever it returns, even after the
    // caller gave up on it; the shared_ptr keeps the set alive till then.
    auto marks = stuck;
    StuckDevices::Mark mark =
        marks->mark(address, StuckDevices::Source::Kernel,
                    "an earlier kernel call on " + address.str() + " (" + what +
                        ") is still blocked (an unbind waits until "
                        "every process closes the device)");
    runWithTimeout(
        [marks, mark, call] {
            try
            {
                call();
            }
            catch (...)
            {
                marks->clear(mark);
                throw;
            }
            marks->clear(mark);
        },
        timeout, what + " of " + address.str());
}

void KernelCalls::requireNotStuck(const PciAddress& address) const
{
    stuck->requireNotStuck(address);
}

bool KernelCalls::isStuck(const PciAddress& address) const
{
    return stuck->contains(address, StuckDevices::Source::Kernel);
}

bool KernelCalls::waitUntilNotStuck(const PciAddress& address,
                                    std::chrono::milliseconds timeout) const
{
    return stuck->waitUntilClear(address, StuckDevices::Source::Kernel,
                                 timeout);
}

} // namespace vfiod
