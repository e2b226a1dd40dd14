#include "plugin/plugin_call.hpp"

#include "base/errno_map.hpp"
#include "base/error.hpp"
#include "base/spare_threads.hpp"

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

namespace vfiod
{

namespace
{

/** Shared by the caller and an op thread that may outlive it. */
struct OpState
{
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    std::exception_ptr error;
    OpResult result;
};

void runOp(const std::shared_ptr<OpState>& state,
           const std::function<int(char*, size_t)>& op,
           const std::shared_ptr<StuckDevices>& stuck, StuckDevices::Mark mark)
{
    std::vector<char> reason(pluginErrorSize, '\0');
    OpResult result;
    std::exception_ptr error;
    try
    {
        result.ret = op(reason.data(), reason.size());
        reason.back() = '\0'; // a plugin that filled it all
        result.reason = reason.data();
    }
    catch (...)
    {
        error = std::current_exception();
    }
    // Cleared whether or not the caller still waits: this is how a stuck
    // device becomes usable again.
    stuck->clear(mark);
    std::lock_guard lock(state->mutex);
    state->result = std::move(result);
    state->error = error;
    state->finished = true;
    state->done.notify_all();
}

} // namespace

OpResult runPluginOp(std::function<int(char*, size_t)> op,
                     const std::shared_ptr<StuckDevices>& stuck,
                     const PciAddress& address,
                     std::chrono::milliseconds timeout, const std::string& what)
{
    stuck->requireNotStuck(address);
    // Marked before the thread starts, cleared by the thread: a device is
    // stuck exactly while an op on it runs past its caller.
    StuckDevices::Mark mark =
        stuck->mark(address, StuckDevices::Source::Plugin,
                    "an earlier plugin operation on " + address.str() + " (" +
                        what + ") has not returned yet");
    auto state = std::make_shared<OpState>();
    runOnSpareThread([state, op = std::move(op), stuck, mark]() mutable {
        runOp(state, std::move(op), stuck, mark);
    });

    std::unique_lock lock(state->mutex);
    if (!state->done.wait_for(lock, timeout, [&] { return state->finished; }))
    {
        fail(Errc::TimedOut, what + " did not return within " +
                                 std::to_string(timeout.count()) +
                                 " ms; the device is left to it");
    }
    if (state->error)
    {
        std::rethrow_exception(state->error);
    }
    return state->result;
}

std::string errnoDescription(int error)
{
    const char* name = strerrorname_np(error);
    return std::string(std::strerror(error)) + " (" +
           (name != nullptr ? name : std::to_string(error)) + ")";
}

void failPluginOp(const OpResult& result, const std::string& what)
{
    int error = -result.ret;
    std::string message =
        what + " failed: " +
        (result.reason.empty()
             ? errnoDescription(error)
             : result.reason + " (" + errnoDescription(error) + ")");
    fail(errcOfErrno(error, ErrnoFrom::Plugin), message);
}

} // namespace vfiod
