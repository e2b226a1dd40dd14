#include "signal_watch.hpp"

#include "cli_error.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vfioctl
{

SignalWatch::SignalWatch(std::initializer_list<int> signals)
{
    sigset_t mask;
    sigemptyset(&mask);
    for (int signal : signals)
    {
        sigaddset(&mask, signal);
    }
    sigprocmask(SIG_BLOCK, &mask, &savedMask);
    signalFd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signalFd < 0)
    {
        int error = errno;
        sigprocmask(SIG_SETMASK, &savedMask, nullptr);
        throw CliError(ExitCode::failed,
                       std::string("signalfd: ") + std::strerror(error));
    }
}

SignalWatch::~SignalWatch()
{
    ::close(signalFd);
    sigprocmask(SIG_SETMASK, &savedMask, nullptr);
}

bool SignalWatch::read(signalfd_siginfo& info)
{
    return ::read(signalFd, &info, sizeof info) ==
           static_cast<ssize_t>(sizeof info);
}

} // namespace vfioctl
