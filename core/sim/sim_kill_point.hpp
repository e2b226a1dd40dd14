#pragma once

#include <string>

/**
 * @brief A test hook of the simulated kernel only: SIGKILL the process at
 * one chosen step, so that a crash test can stop vfiod at every step of an
 * operation in turn instead of at random moments.
 *
 * A step is one change a process asks of the kernel: a sysfs write
 * (driver_override, unbind, bind, drivers_probe, sriov_numvfs, reset,
 * remove, a migration state...), a modprobe, a hot removal. Inert unless
 * VFIOD_SIM_KILL_AT is set in the environment (read once, at the first
 * step); the Linux backend has no such hook.
 *
 * - VFIOD_SIM_KILL_AT=N: the process kills itself at its N-th step
 *   (counted from 1 since it started; 0 kills never, only counts).
 * - VFIOD_SIM_KILL_WHEN=before: before the step reaches the kernel.
 *   after (the default): once the kernel has taken it and the state file
 *   holds it, before the caller has seen it return. An unbind still in
 *   flight (waiting for its delay or for the last close) is then left in
 *   flight, and completes without its writer, as in the kernel.
 *
 * While set, every step is written to stderr as
 * "vfiod-sim kill point: step N: WHAT", so that a test learns how many
 * steps an operation takes.
 */
namespace vfiod::sim::kill_point
{

/** @brief Called before a step; kills at the chosen one when "before".
 *  @return the step's number (0 when the hook is inert). */
unsigned before(const std::string& what);

/** @brief Called once the step's first transaction is done; kills at the
 *  chosen one when "after". */
void after(unsigned step);

} // namespace vfiod::sim::kill_point
