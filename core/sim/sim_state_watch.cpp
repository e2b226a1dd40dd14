#include "sim/sim_state_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace vfiod::sim
{

StateWatch::StateWatch(const std::string& dir) :
    notify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
{
    if (!notify ||
        ::inotify_add_watch(notify.get(), dir.c_str(),
                            IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE) < 0)
    {
        // Without inotify the caller's bounded waits still poll the state.
        notify.reset();
    }
}

void StateWatch::wait(std::chrono::milliseconds timeout)
{
    if (!notify)
    {
        std::this_thread::sleep_for(timeout);
        return;
    }
    struct pollfd fd = {notify.get(), POLLIN, 0};
    int rc = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    if (rc > 0)
    {
        char buffer[4096];
        while (::read(notify.get(), buffer, sizeof buffer) > 0)
        {}
    }
}

} // namespace vfiod::sim
