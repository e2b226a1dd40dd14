#pragma once

#include "base/fd.hpp"
#include "unique_function.hpp"

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

/**
 * @brief The daemon's one event loop, on the main thread: it dispatches the
 * server connection (method calls, property reads), watches file
 * descriptors (uevents, signals, leases) and runs tasks posted from other
 * threads.
 *
 * Every use of the server connection and of the exported objects happens
 * here, so sd-bus, which is not thread-safe, is only ever touched by this
 * thread; workers hand their replies and the changes they caused back
 * through post(). Nothing run here may block.
 */
class MainLoop
{
  public:
    using Task = UniqueFunction<void()>;
    using FdHandler = std::function<void(short revents)>;

    explicit MainLoop(sdbus::IConnection& bus);

    MainLoop(const MainLoop&) = delete;
    MainLoop& operator=(const MainLoop&) = delete;

    /**
     * @brief Calls @p handler when @p fd is readable or hung up.
     * Replaces an earlier watch of the same fd. Main thread only.
     */
    void watch(int fd, FdHandler handler);

    /** @brief Stops watching @p fd (it may be closed afterwards). */
    void unwatch(int fd);

    /**
     * @brief Runs @p task on the loop thread, after the tasks posted
     * before it. Safe from any thread.
     */
    void post(Task task);

    /** @brief Runs until quit(). */
    void run();

    /** @brief Makes run() return. Safe from any thread. */
    void quit();

    /**
     * @brief Runs the tasks posted so far and lets the connection send
     * what they queued, without waiting for anything.
     */
    void runPending();

  private:
    void runTasks();
    void dispatchBus();
    void wake();
    void drainWakeFd();

    sdbus::IConnection& bus;
    UniqueFd wakeFd;
    std::mutex mutex; ///< guards tasks
    std::deque<Task> tasks;
    struct Watch
    {
        uint64_t id; ///< tells a reused fd number from the one polled
        FdHandler handler;
    };
    std::map<int, Watch> watches;
    uint64_t nextWatchId = 1;
    std::atomic<bool> running{false};
};

} // namespace vfiod::daemon
