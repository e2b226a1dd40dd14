#pragma once

#include "base/fd.hpp"

#include <initializer_list>
#include <optional>

namespace vfiod::daemon
{

/**
 * @brief Receives signals through a signalfd, so that SIGTERM and SIGHUP
 * are handled on the main loop like any other event instead of in an
 * async-signal context.
 *
 * Blocks the signals in the calling thread: create it first thing in
 * main(), before any thread starts, so every thread inherits the mask and
 * none of them takes the signal itself.
 */
class SignalFd
{
  public:
    explicit SignalFd(std::initializer_list<int> signals);

    int fd() const noexcept
    {
        return descriptor.get();
    }

    /** @brief The next pending signal, std::nullopt when none. */
    std::optional<int> next();

  private:
    UniqueFd descriptor;
};

} // namespace vfiod::daemon
