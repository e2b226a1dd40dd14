#pragma once

#include "unique_function.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

/**
 * @brief What a job may use besides its own arguments: a bus connection
 * of the worker thread's own, for the calls it makes (polkit, the bus
 * driver). The server connection belongs to the main loop and is never
 * used from a worker.
 */
class WorkerContext
{
  public:
    using Connect = std::function<std::unique_ptr<sdbus::IConnection>()>;

    explicit WorkerContext(Connect connect);
    ~WorkerContext();

    /**
     * @brief The worker's connection, opened on first use and reopened
     * after a failure.
     * @throws sdbus::Error when the bus cannot be reached.
     */
    sdbus::IConnection& bus();

    /** @brief Drops the connection, e.g. after it broke. */
    void resetBus() noexcept;

  private:
    Connect connect;
    std::unique_ptr<sdbus::IConnection> connection;
};

/**
 * @brief A fixed set of threads running blocking jobs (kernel operations,
 * authorization round trips) off the main loop.
 *
 * Jobs are queued per key, a device address for device operations: jobs
 * with the same key run one after another in order, jobs with different
 * keys run in parallel. A device with a slow reset therefore holds one
 * thread, while the calls queued behind it wait without holding any, and
 * other devices keep being served.
 *
 * The pool starts with its base size and grows, up to its maximum, when a
 * lane is ready and no thread is free: jobs that wait for a client (a
 * migration stream) or a stuck kernel call hold their thread, and must
 * not starve the other lanes. Grown threads stay until stop().
 */
class WorkerPool
{
  public:
    using Job = UniqueFunction<void(WorkerContext&)>;

    WorkerPool(unsigned threads, unsigned maxThreads,
               WorkerContext::Connect connect);

    /** @brief stop(). */
    ~WorkerPool();

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /** @brief Queues @p job behind the earlier jobs with the same key. */
    void submit(const std::string& key, Job job);

    /**
     * @brief Lets the running jobs finish and drops the queued ones (their
     * reply guards answer Failed). Idempotent; later submits are dropped.
     */
    void stop();

  private:
    struct Lane
    {
        std::deque<Job> jobs;
    };

    void work();
    /** @brief One more thread when a lane waits and none is free. */
    void growIfNeeded();

    WorkerContext::Connect connect;
    unsigned maxThreads;
    std::mutex mutex; ///< guards everything below
    std::condition_variable wake;
    /// A key is in lanes while it has jobs queued or running; it is in
    /// ready while a thread may start its next job.
    std::map<std::string, Lane> lanes;
    std::deque<std::string> ready;
    bool stopping = false;
    unsigned idle = 0; ///< threads waiting for a ready lane
    std::vector<std::thread> threads;
};

} // namespace vfiod::daemon
