#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vfiod::daemon
{

/** @brief The command line of vfiod. */
struct Options
{
    /// --sim FILE: run on a simulated host described by FILE.
    std::optional<std::string> simFile;
    /// --sim-state DIR: the simulated kernel's state; default: a "sim"
    /// directory under the configured state_dir.
    std::optional<std::string> simStateDir;
    /// --config FILE; std::nullopt: the default file, which may be absent.
    std::optional<std::string> configFile;
    /// --bus-address ADDR; std::nullopt: the system bus
    /// (DBUS_SYSTEM_BUS_ADDRESS when set).
    std::optional<std::string> busAddress;
    /// --sysfs-root, --dev-root, --modules-root: override [roots].
    std::optional<std::string> sysfsRoot;
    std::optional<std::string> devRoot;
    std::optional<std::string> modulesRoot;
    bool verbose = false; ///< -v: log at debug level
    bool version = false; ///< --version: print it and exit
    bool help = false;    ///< -h: print usage and exit
};

/**
 * @brief Parses argv.
 * @throws Error(Errc::InvalidArgument) naming the offending argument.
 */
Options parseOptions(int argc, char** argv);

/** @brief The --help text. */
std::string usage(std::string_view program);

} // namespace vfiod::daemon
