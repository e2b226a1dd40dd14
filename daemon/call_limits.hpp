#pragma once

#include "config/daemon_config.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace vfiod::daemon
{

/**
 * @brief Counts the calls each caller and each device lane has queued or
 * running, and the descriptors pending calls hold, and refuses a call past
 * a limit (vfiod.toml(5) [limits]) with LimitsExceeded before it holds
 * anything. Thread-safe: slots are taken on the main loop and on workers
 * and given back wherever the job that holds them ends.
 */
class CallLimits
{
  public:
    /** @brief Held while the call is pending; released when destroyed. */
    using Slot = std::shared_ptr<void>;

    /**
     * @param maxHeldFds descriptors that pending calls may hold in all,
     *        well below RLIMIT_NOFILE: past it sd-bus could not take in a
     *        message with descriptors and would drop the bus.
     */
    CallLimits(const CallLimitsConfig& config, unsigned maxHeldFds);

    CallLimits(const CallLimits&) = delete;
    CallLimits& operator=(const CallLimits&) = delete;

    /**
     * @brief A call of @p sender (a unique bus name) arrives; @p carriesFd
     * when it passes a descriptor that vfiod keeps.
     * @throws Error(LimitsExceeded) naming the limit.
     */
    Slot enterCaller(const std::string& sender, bool carriesFd,
                     const std::string& what);

    /**
     * @brief An authorized call is queued on @p lane. A privileged
     * caller is counted but never refused: a flood of others must not use
     * up root's share of a device.
     * @throws Error(LimitsExceeded) naming the limit.
     */
    Slot enterLane(const std::string& lane, bool privileged,
                   const std::string& what);

  private:
    void leave(std::map<std::string, unsigned>& counts, const std::string& key,
               bool carriedFd);

    CallLimitsConfig config;
    unsigned maxHeldFds;
    std::mutex mutex; ///< guards the counts
    std::map<std::string, unsigned> callers;
    std::map<std::string, unsigned> lanes;
    unsigned heldFds = 0;
};

/**
 * @brief Raises the soft RLIMIT_NOFILE to the hard limit, so that the
 * descriptors of pending calls and leases do not run out first.
 * @return the soft limit in force afterwards.
 */
unsigned raiseDescriptorLimit();

} // namespace vfiod::daemon
