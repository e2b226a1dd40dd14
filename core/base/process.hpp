#pragma once

#include <string>
#include <vector>

namespace vfiod
{

/** @brief How a child process ended. */
struct ProcessResult
{
    /// The exit code, or -1 when the process was killed by a signal.
    int exitStatus = -1;
    /// What it wrote to stderr (at most the first 64 KiB).
    std::string standardError;
};

/**
 * @brief Runs a program to completion without a shell: argv[0] is the path
 * that is executed, stdin and stdout are /dev/null, stderr is captured, and
 * no other descriptor of this process is inherited.
 *
 * Blocks until the child exits; callers that need a bound on that run it
 * with a timeout.
 * @throws std::system_error when the program cannot be started.
 */
ProcessResult runProcess(const std::vector<std::string>& argv);

/**
 * @brief Like runProcess, but stdout goes to the same capture as stderr
 * (ProcessResult::standardError holds both, interleaved as written): for
 * helpers whose answer is their output, such as `devlink port show`.
 */
ProcessResult runProcessWithOutput(const std::vector<std::string>& argv);

} // namespace vfiod
