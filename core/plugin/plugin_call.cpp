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
           const std::shared_ptr<StuckDevices>& stuck, PciAddress address)
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
    stuck->clear(address);
    std::lock_guard lock(state->mutex);
    state->result = std::move(result);
    state->error = error;
    state->finished = true;
    state->done.notify_all();
}

} // namespace

void StuckDevices::mark(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    addresses.insert(address);
}

void StuckDevices::clear(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    addresses.erase(address);
    cleared.notify_all();
}

bool StuckDevices::contains(const PciAddress& address) const
{
    std::lock_guard lock(mutex);
    return addresses.count(address) != 0;
}

bool StuckDevices::waitUntilClear(const PciAddress& address,
                                  std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex);
    return cleared.wait_for(lock, timeout, [this, &address] {
        return addresses.count(address) == 0;
    });
}

OpResult runPluginOp(std::function<int(char*, size_t)> op,
                     const std::shared_ptr<StuckDevices>& stuck,
                     const PciAddress& address,
                     std::chrono::milliseconds timeout, const std::string& what)
{
    if (stuck->contains(address))
    {
        fail(Errc::Busy, "an earlier plugin operation on " + address.str() +
                             " has not returned yet");
    }
    // Marked before the thread starts, cleared by the thread: a device is
    // stuck exactly while an op on it runs past its caller.
    stuck->mark(address);
    auto state = std::make_shared<OpState>();
    runOnSpareThread([state, op = std::move(op), stuck, address]() mutable {
        runOp(state, std::move(op), stuck, address);
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
    fail(errcOfErrno(error), message);
}

} // namespace vfiod
