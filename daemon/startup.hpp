#pragma once

namespace vfiod::daemon
{

/**
 * @brief The whole daemon: options, configuration, backend, bus service.
 * @return the exit status: 0 after SIGTERM/SIGINT, 1 on a failure to
 *         start (name taken, bad configuration), 2 on bad usage.
 */
int runDaemon(int argc, char** argv);

} // namespace vfiod::daemon
