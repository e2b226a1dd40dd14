#pragma once

#include "base/fd.hpp"

#include <chrono>
#include <string>

namespace vfiod::sim
{

/**
 * @brief Wakes a waiter when any process changes the state directory
 * (a state file renamed into place, the uevent log appended to), so a
 * blocked unbind or a device node wait reacts at once instead of polling
 * blindly. Waits are still bounded by the caller, which re-checks the
 * state after every wake-up.
 */
class StateWatch
{
  public:
    explicit StateWatch(const std::string& dir);

    /** @brief Returns after a change or @p timeout, whichever is first. */
    void wait(std::chrono::milliseconds timeout);

  private:
    UniqueFd notify;
};

} // namespace vfiod::sim
