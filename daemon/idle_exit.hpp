#pragma once

#include "base/fd.hpp"

#include <chrono>
#include <functional>

namespace vfiod::daemon
{

class MainLoop;

/**
 * @brief Ends an idle vfiod: when nothing needs it (no lease held or
 * awaited, no device taken from its driver) for a whole period, it asks
 * the loop to quit. D-Bus activation and the udev rules start it again
 * when it is wanted. Main loop thread only.
 */
class IdleExit
{
  public:
    using Busy = std::function<bool()>;
    using Quit = std::function<void()>;

    /** @param period 0 disables the exit. */
    IdleExit(MainLoop& loop, std::chrono::milliseconds period, Busy busy,
             Quit quit);
    ~IdleExit();

    IdleExit(const IdleExit&) = delete;
    IdleExit& operator=(const IdleExit&) = delete;

  private:
    void onTick();

    MainLoop& loop;
    std::chrono::milliseconds period;
    Busy busy;
    Quit quit;
    UniqueFd timer;
    std::chrono::steady_clock::time_point idleSince;
};

} // namespace vfiod::daemon
