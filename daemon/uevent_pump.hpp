#pragma once

#include "kernel/kernel_host.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace vfiod::daemon
{

class MainLoop;

/**
 * @brief Reads uevents on the main loop and hands each batch on.
 *
 * Reading never blocks (UeventSource::receive), but applying an event
 * re-reads sysfs, so the consumer is expected to queue the batch for a
 * worker rather than apply it on the loop.
 */
class UeventPump
{
  public:
    using Consumer = std::function<void(std::vector<Uevent> events)>;

    /** @brief Starts watching @p source. */
    UeventPump(MainLoop& loop, std::unique_ptr<UeventSource> source,
               Consumer consumer);
    ~UeventPump();

    UeventPump(const UeventPump&) = delete;
    UeventPump& operator=(const UeventPump&) = delete;

  private:
    void onReadable();

    MainLoop& loop;
    std::unique_ptr<UeventSource> source;
    Consumer consumer;
};

} // namespace vfiod::daemon
