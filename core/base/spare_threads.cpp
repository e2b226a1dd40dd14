#include "base/spare_threads.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace vfiod
{

namespace
{

using namespace std::chrono_literals;

class SpareThreads
{
  public:
    void run(std::function<void()> task)
    {
        std::unique_lock lock(mutex);
        tasks.push_back(std::move(task));
        if (idle >= tasks.size())
        {
            wake.notify_one();
            return;
        }
        lock.unlock();
        std::thread([this] { serve(); }).detach();
    }

  private:
    void serve()
    {
        std::unique_lock lock(mutex);
        for (;;)
        {
            if (tasks.empty())
            {
                ++idle;
                bool woken =
                    wake.wait_for(lock, 30s, [this] { return !tasks.empty(); });
                --idle;
                if (!woken)
                {
                    return; // idle long enough: give the thread back
                }
            }
            std::function<void()> task = std::move(tasks.front());
            tasks.pop_front();
            lock.unlock();
            try
            {
                task();
            }
            catch (...)
            {
                std::terminate(); // a task broke its contract
            }
            task = nullptr; // what it captured goes before the next wait
            lock.lock();
        }
    }

    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> tasks;
    size_t idle = 0;
};

} // namespace

void runOnSpareThread(std::function<void()> task)
{
    // Never destroyed: detached threads may still wait on it at exit.
    static auto* threads = new SpareThreads;
    threads->run(std::move(task));
}

} // namespace vfiod
