#pragma once

#include <sys/signalfd.h>

#include <csignal>
#include <initializer_list>

namespace vfioctl
{

/**
 * @brief Receives signals through a signalfd instead of a handler.
 *
 * vfioctl's waits (holding a lease, running a command, monitoring) poll
 * several fds; a signalfd lets SIGINT and friends join that poll, with no
 * async-signal-safety concerns and no race between checking a flag and
 * going to sleep. The signals are blocked for the object's lifetime and
 * the previous mask is restored afterwards.
 */
class SignalWatch
{
  public:
    /** @throws CliError(failed) when the signalfd cannot be created. */
    explicit SignalWatch(std::initializer_list<int> signals);
    ~SignalWatch();

    SignalWatch(const SignalWatch&) = delete;
    SignalWatch& operator=(const SignalWatch&) = delete;

    /** @brief The fd to poll for POLLIN. */
    int fd() const noexcept
    {
        return signalFd;
    }

    /** @brief The mask in force before this object; for a forked child. */
    const sigset_t& previousMask() const noexcept
    {
        return savedMask;
    }

    /**
     * @brief Takes one pending signal.
     * @return false when none was pending.
     */
    bool read(signalfd_siginfo& info);

  private:
    int signalFd = -1;
    sigset_t savedMask;
};

} // namespace vfioctl
