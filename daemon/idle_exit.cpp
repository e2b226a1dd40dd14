#include "idle_exit.hpp"

#include "main_loop.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace vfiod::daemon
{

IdleExit::IdleExit(MainLoop& loop, std::chrono::milliseconds period, Busy busy,
                   Quit quit) :
    loop(loop),
    period(period), busy(std::move(busy)), quit(std::move(quit)),
    idleSince(std::chrono::steady_clock::now())
{
    if (period.count() <= 0)
    {
        return;
    }
    timer =
        UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer)
    {
        throw std::system_error(errno, std::generic_category(),
                                "cannot create the idle timer");
    }
    // Looked at a few times per period: an exit comes at most a quarter
    // period late, and an idle vfiod wakes only that often.
    auto tick = std::max(std::chrono::milliseconds(50), period / 4);
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(tick.count() / 1000);
    spec.it_value.tv_nsec = static_cast<long>(tick.count() % 1000) * 1000000;
    spec.it_interval = spec.it_value;
    ::timerfd_settime(timer.get(), 0, &spec, nullptr);
    loop.watch(timer.get(), [this](short) { onTick(); });
}

IdleExit::~IdleExit()
{
    if (timer)
    {
        loop.unwatch(timer.get());
    }
}

void IdleExit::onTick()
{
    uint64_t expirations = 0;
    while (::read(timer.get(), &expirations, sizeof expirations) > 0)
    {}
    auto now = std::chrono::steady_clock::now();
    if (busy())
    {
        idleSince = now;
        return;
    }
    if (now - idleSince >= period)
    {
        quit();
    }
}

} // namespace vfiod::daemon
