#pragma once

#include <functional>

namespace vfiod
{

/**
 * @brief Runs @p task on a thread of its own, reusing a thread that
 * finished an earlier task when one is idle.
 *
 * For calls that must not block their caller beyond a timeout (sysfs
 * writes, plugin ops): the caller waits on the task's own state, and a
 * task that never returns keeps its thread while new tasks get another
 * one. Reusing threads matters: a thread per call cost more than the calls
 * themselves (bench/: start-up with 4,096 devices created some 16,000
 * threads for plugin queries). Idle threads exit after a while.
 *
 * @p task must not throw (it is called with nothing above it to catch).
 */
void runOnSpareThread(std::function<void()> task);

} // namespace vfiod
