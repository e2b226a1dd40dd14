#include "worker_pool.hpp"

#include "logging.hpp"

#include <sdbus-c++/IConnection.h>

#include <algorithm>

namespace vfiod::daemon
{

WorkerContext::WorkerContext(Connect connect) : connect(std::move(connect)) {}

WorkerContext::~WorkerContext() = default;

sdbus::IConnection& WorkerContext::bus()
{
    if (!connection)
    {
        connection = connect();
    }
    return *connection;
}

void WorkerContext::resetBus() noexcept
{
    connection.reset();
}

WorkerPool::WorkerPool(unsigned threadCount, unsigned maxThreads,
                       WorkerContext::Connect connect) :
    connect(std::move(connect)),
    maxThreads(std::max(threadCount, maxThreads))
{
    std::lock_guard lock(mutex);
    threads.reserve(threadCount);
    for (unsigned i = 0; i < threadCount; ++i)
    {
        threads.emplace_back(&WorkerPool::work, this);
    }
}

void WorkerPool::growIfNeeded()
{
    // Threads that have not reached their first wait yet count as busy:
    // at worst one more than needed is started.
    if (ready.size() > idle && threads.size() < maxThreads)
    {
        threads.emplace_back(&WorkerPool::work, this);
    }
}

WorkerPool::~WorkerPool()
{
    stop();
}

void WorkerPool::submit(const std::string& key, Job job)
{
    std::unique_lock lock(mutex);
    if (stopping)
    {
        lock.unlock();
        return; // job (and its reply guard) is destroyed here
    }
    auto [lane, created] = lanes.try_emplace(key);
    lane->second.jobs.push_back(std::move(job));
    if (created)
    {
        ready.push_back(key);
        growIfNeeded();
        wake.notify_one();
    }
}

void WorkerPool::stop()
{
    std::map<std::string, Lane> dropped;
    {
        std::lock_guard lock(mutex);
        if (stopping)
        {
            return;
        }
        stopping = true;
        // The running job of each lane was already taken out of it.
        dropped.swap(lanes);
        ready.clear();
    }
    wake.notify_all();
    for (std::thread& thread : threads)
    {
        thread.join();
    }
    // dropped goes out of scope here, outside the lock: the reply guards
    // of the queued jobs post their Failed replies to the main loop.
}

void WorkerPool::work()
{
    WorkerContext context(connect);
    std::unique_lock lock(mutex);
    while (true)
    {
        ++idle;
        wake.wait(lock, [this] { return stopping || !ready.empty(); });
        --idle;
        if (stopping)
        {
            return;
        }
        std::string key = std::move(ready.front());
        ready.pop_front();
        Job job = std::move(lanes[key].jobs.front());
        lanes[key].jobs.pop_front();

        lock.unlock();
        try
        {
            job(context);
        }
        catch (const std::exception& e)
        {
            logError("job " + key + " failed: " + e.what() + ", ignoring");
        }
        job = Job(); // its reply guard answers, if it has not yet
        lock.lock();

        if (stopping)
        {
            return;
        }
        auto lane = lanes.find(key);
        if (lane->second.jobs.empty())
        {
            lanes.erase(lane);
        }
        else
        {
            ready.push_back(key); // this thread, about to wait, may take it
            wake.notify_one();
        }
    }
}

} // namespace vfiod::daemon
