#pragma once

#include "exit_codes.hpp"

#include <optional>
#include <string>
#include <vector>

namespace vfioctl
{

/** @brief Options every subcommand accepts, before or after its name. */
struct GlobalOptions
{
    /** D-Bus address from --bus-address; unset means the system bus. */
    std::optional<std::string> busAddress;
    /** --json: machine-readable output on stdout. */
    bool json = false;
    /** --force of unbind, assign and reset: past the in-use check. */
    bool force = false;
};

/**
 * @name Subcommands
 * Each runs one verb and returns the exit code. Failures are thrown
 * (sdbus::Error from the bus, CliError otherwise) and reported by main, so
 * every command prints errors the same way. Kept free of CLI11, which only
 * vfioctl.cpp includes because it is slow to compile.
 */
///@{
ExitCode runList(const GlobalOptions& options);
ExitCode runShow(const GlobalOptions& options, const std::string& address);
ExitCode runBind(const GlobalOptions& options, const std::string& address,
                 const std::optional<std::string>& driver, bool wholeGroup);
ExitCode runUnbind(const GlobalOptions& options, const std::string& address);
/**
 * @param[in] command empty: hold the lease until SIGINT/SIGTERM/SIGHUP;
 *            otherwise run it and hold the lease while it runs.
 * @return an ExitCode, or with @p command that command's shell status.
 */
int runAssign(const GlobalOptions& options, const std::string& address,
              const std::optional<std::string>& driver,
              const std::vector<std::string>& command);
ExitCode runRelease(const GlobalOptions& options, const std::string& address);
ExitCode runReset(const GlobalOptions& options, const std::string& address,
                  const std::optional<std::string>& method);
ExitCode runMonitor(const GlobalOptions& options);
ExitCode runReload(const GlobalOptions& options);
/** @brief Which policy rule matches the device and what vfiod does. */
ExitCode runExplain(const GlobalOptions& options, const std::string& address);
/** @brief The udev rules vfiod generated from its policy. */
ExitCode runUdevRules(const GlobalOptions& options);
/**
 * @brief Validates DIR/vfiod.toml (if present) and DIR/policy.d/NAME.toml
 * without a daemon; a configuration error is printed as
 * FILE:LINE:COLUMN: message and gives ExitCode::usage.
 * @param[in] dir the configuration directory; unset means the built-in one.
 */
ExitCode runCheckConfig(const GlobalOptions& options,
                        const std::optional<std::string>& dir);
/** @brief The plugins vfiod loaded (Manager.Plugins). */
ExitCode runPlugins(const GlobalOptions& options);
/**
 * @brief Without @p state: the device's plugin, migration flags and state;
 * with it: SetMigrationState, printing the states passed through.
 */
ExitCode runMigrationState(const GlobalOptions& options,
                           const std::string& address,
                           const std::optional<std::string>& state);
/** @brief SaveState into FILE, or stdout for "-". */
ExitCode runSave(const GlobalOptions& options, const std::string& address,
                 const std::string& file);
/** @brief LoadState from FILE, or stdin for "-". */
ExitCode runLoad(const GlobalOptions& options, const std::string& address,
                 const std::string& file);
/** @brief Migrate SRC into DST, with progress on stderr. */
ExitCode runMigrate(const GlobalOptions& options, const std::string& source,
                    const std::string& target);
///@}

} // namespace vfioctl
