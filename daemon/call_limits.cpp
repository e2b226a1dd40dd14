#include "call_limits.hpp"

#include "base/error.hpp"
#include "logging.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vfiod::daemon
{

CallLimits::CallLimits(const CallLimitsConfig& config, unsigned maxHeldFds) :
    config(config), maxHeldFds(maxHeldFds)
{}

CallLimits::Slot CallLimits::enterCaller(const std::string& sender,
                                         bool carriesFd,
                                         const std::string& what)
{
    std::lock_guard lock(mutex);
    unsigned& count = callers[sender];
    if (count >= config.maxCallsPerCaller)
    {
        if (count == 0)
        {
            callers.erase(sender);
        }
        fail(Errc::LimitsExceeded,
             what + ": " + sender + " has " + std::to_string(count) +
                 " calls pending already (max_calls_per_caller in "
                 "vfiod.toml)");
    }
    if (carriesFd && heldFds >= maxHeldFds)
    {
        if (count == 0)
        {
            callers.erase(sender);
        }
        fail(Errc::LimitsExceeded,
             what + ": pending calls hold " + std::to_string(heldFds) +
                 " file descriptors already; try again when they are done");
    }
    ++count;
    heldFds += carriesFd ? 1 : 0;
    return Slot(nullptr, [this, sender, carriesFd](void*) {
        leave(callers, sender, carriesFd);
    });
}

CallLimits::Slot CallLimits::enterLane(const std::string& lane, bool privileged,
                                       const std::string& what)
{
    std::lock_guard lock(mutex);
    unsigned& count = lanes[lane];
    if (!privileged && count >= config.maxQueuedPerDevice)
    {
        fail(Errc::LimitsExceeded,
             what + ": " + std::to_string(count) +
                 " calls are queued on the device already "
                 "(max_queued_per_device in vfiod.toml)");
    }
    ++count;
    return Slot(nullptr, [this, lane](void*) { leave(lanes, lane, false); });
}

void CallLimits::leave(std::map<std::string, unsigned>& counts,
                       const std::string& key, bool carriedFd)
{
    std::lock_guard lock(mutex);
    auto it = counts.find(key);
    if (it != counts.end() && --it->second == 0)
    {
        counts.erase(it);
    }
    if (carriedFd && heldFds > 0)
    {
        --heldFds;
    }
}

unsigned raiseDescriptorLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    {
        return 1024;
    }
    if (limit.rlim_cur < limit.rlim_max)
    {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
        {
            limit = raised;
        }
        else
        {
            logWarning(std::string("cannot raise the descriptor limit: ") +
                       std::strerror(errno));
        }
    }
    // select(2) is not used, so descriptors past FD_SETSIZE are fine.
    return static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur, 1u << 30));
}

} // namespace vfiod::daemon
