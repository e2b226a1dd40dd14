#include "main_loop.hpp"

#include "logging.hpp"
#include "service_notify.hpp"

#include <sdbus-c++/IConnection.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>
#include <vector>

namespace vfiod::daemon
{

MainLoop::MainLoop(sdbus::IConnection& bus) :
    bus(bus), wakeFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (!wakeFd)
    {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

void MainLoop::watch(int fd, FdHandler handler)
{
    watches[fd] = Watch{nextWatchId++, std::move(handler)};
}

void MainLoop::unwatch(int fd)
{
    watches.erase(fd);
}

void MainLoop::post(Task task)
{
    {
        std::lock_guard lock(mutex);
        tasks.push_back(std::move(task));
    }
    wake();
}

void MainLoop::quit()
{
    running = false;
    wake();
}

void MainLoop::wake()
{
    uint64_t one = 1;
    // A full counter (EAGAIN) still wakes the loop; nothing else can fail.
    [[maybe_unused]] ssize_t n = ::write(wakeFd.get(), &one, sizeof one);
}

void MainLoop::drainWakeFd()
{
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(wakeFd.get(), &count, sizeof count);
}

void MainLoop::runTasks()
{
    std::deque<Task> batch;
    {
        std::lock_guard lock(mutex);
        batch.swap(tasks);
    }
    for (Task& task : batch)
    {
        try
        {
            task();
        }
        catch (const std::exception& e)
        {
            logError(std::string("main loop task failed: ") + e.what() +
                     ", ignoring");
        }
    }
}

void MainLoop::dispatchBus()
{
    // processPendingRequest handles one message per call.
    while (bus.processPendingRequest())
    {}
}

void MainLoop::runPending()
{
    drainWakeFd();
    runTasks();
    dispatchBus();
}

namespace
{

/**
 * WATCHDOG=1 at half the service manager's interval (sd_watchdog_enabled(3)
 * recommends it), sent from the loop itself: a keep-alive then proves that
 * the thread serving the bus still turns, which a separate timer thread
 * would not. poll() is given the time left as its timeout, so an idle
 * daemon wakes only when a keep-alive is due.
 */
class Watchdog
{
  public:
    using Clock = std::chrono::steady_clock;

    Watchdog()
    {
        if (auto interval = watchdogInterval())
        {
            period = std::chrono::duration_cast<Clock::duration>(*interval / 2);
            // At least 1 ms, so that a tiny WATCHDOG_USEC cannot spin.
            period =
                std::max<Clock::duration>(period, std::chrono::milliseconds(1));
            auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(period);
            logDebug("watchdog: keep-alive every " +
                     std::to_string(ms.count()) + " ms");
        }
    }

    /** Sends a keep-alive when one is due. */
    void tick()
    {
        if (period == Clock::duration::zero())
        {
            return;
        }
        auto now = Clock::now();
        if (now >= next)
        {
            notifyWatchdog();
            next = now + period;
        }
    }

    /** @p timeout (ms, -1 = none) shortened to the next keep-alive. */
    int pollTimeout(int timeout) const
    {
        if (period == Clock::duration::zero())
        {
            return timeout;
        }
        auto left =
            std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now())
                .count();
        int due = static_cast<int>(std::max<decltype(left)>(left, 0));
        return timeout < 0 ? due : std::min(timeout, due);
    }

  private:
    Clock::duration period = Clock::duration::zero(); ///< zero: disabled
    Clock::time_point next;                           ///< epoch: now
};

} // namespace

void MainLoop::run()
{
    running = true;
    Watchdog watchdog;
    std::vector<pollfd> fds;
    std::vector<uint64_t> ids;
    while (running)
    {
        runTasks();
        dispatchBus();
        if (!running)
        {
            break;
        }
        watchdog.tick();

        // Poll data is taken after the tasks ran, so that replies they
        // queued make the loop wait for POLLOUT too.
        auto busPoll = bus.getEventLoopPollData();
        fds.clear();
        ids.clear();
        fds.push_back({busPoll.fd, busPoll.events, 0});
        fds.push_back({wakeFd.get(), POLLIN, 0});
        for (const auto& [fd, watch] : watches)
        {
            fds.push_back({fd, POLLIN, 0});
            ids.push_back(watch.id);
        }

        int r = ::poll(fds.data(), fds.size(),
                       watchdog.pollTimeout(busPoll.getPollTimeout()));
        if (r < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (fds[1].revents != 0)
        {
            drainWakeFd();
        }
        for (size_t i = 2; i < fds.size(); ++i)
        {
            if (fds[i].revents == 0)
            {
                continue;
            }
            // A handler may unwatch (and close) other fds: look each one up
            // again, and skip a number that now belongs to a new watch.
            auto it = watches.find(fds[i].fd);
            if (it != watches.end() && it->second.id == ids[i - 2])
            {
                FdHandler handler = it->second.handler;
                handler(fds[i].revents);
            }
        }
    }
}

} // namespace vfiod::daemon
