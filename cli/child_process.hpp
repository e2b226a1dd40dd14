#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace vfioctl
{

/**
 * @brief Forks and executes @p argv (searched in PATH).
 *
 * The child gets @p childMask as its signal mask, so the signals vfioctl
 * blocks for its signalfd reach the command normally. If exec fails the
 * child prints why and exits 127 (not found) or 126 (not executable), as
 * shells do.
 *
 * @return the child's pid.
 * @throws CliError(failed) when fork fails.
 */
pid_t spawnCommand(const std::vector<std::string>& argv,
                   const sigset_t& childMask);

/**
 * @brief A waitpid() status as a shell reports it: the exit code, or
 * 128 + N for death by signal N.
 */
int shellStatus(int waitStatus) noexcept;

} // namespace vfioctl
