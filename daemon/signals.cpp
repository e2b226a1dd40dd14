#include "signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace vfiod::daemon
{

SignalFd::SignalFd(std::initializer_list<int> signals)
{
    sigset_t mask;
    sigemptyset(&mask);
    for (int signal : signals)
    {
        sigaddset(&mask, signal);
    }
    int r = pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    if (r != 0)
    {
        throw std::system_error(r, std::generic_category(), "sigmask");
    }
    descriptor.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!descriptor)
    {
        throw std::system_error(errno, std::generic_category(), "signalfd");
    }
}

std::optional<int> SignalFd::next()
{
    signalfd_siginfo info{};
    ssize_t n = ::read(descriptor.get(), &info, sizeof info);
    if (n != static_cast<ssize_t>(sizeof info))
    {
        return std::nullopt;
    }
    return static_cast<int>(info.ssi_signo);
}

} // namespace vfiod::daemon
