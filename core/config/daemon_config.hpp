#pragma once

#include "binding/driver_binder.hpp"
#include "kernel/linux_roots.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

/** @brief How much the daemon logs, from least to most. */
enum class LogLevel
{
    Error,
    Warning,
    Info,
    Debug,
};

/** @brief "error", "warning", "info", "debug". */
std::string_view logLevelName(LogLevel level) noexcept;

/** @brief Who may change device state without asking polkit. */
struct AccessConfig
{
    std::vector<std::string> users;  ///< user names
    std::vector<std::string> groups; ///< group names (primary or supplementary)
};

/** @brief [limits]: how much one caller, one device and the daemon may
 *  have pending at once (vfiod.toml(5)). */
struct CallLimitsConfig
{
    /// Calls of one bus connection queued or running; past it the call is
    /// answered LimitsExceeded at once.
    unsigned maxCallsPerCaller = 64;
    /// Authorized calls waiting for or running on one device; privileged
    /// callers are not counted against it.
    unsigned maxQueuedPerDevice = 32;
    /// Threads running device operations at most: the pool grows past its
    /// base size when every thread is held (stuck migration streams).
    unsigned maxWorkers = 128;
};

/**
 * @brief The contents of vfiod.toml; every member has the default that an
 * absent key means.
 */
struct DaemonConfig
{
    LogLevel logLevel = LogLevel::Info;
    std::string stateDir = defaultStateDir();
    std::string pluginDir; ///< "" means the directory vfiod was built with
    /// "" means policy.d beside the configuration file.
    std::string policyDir;
    LinuxRoots roots;
    /// Where the generated udev rules go; "" means the backend's default:
    /// /run/udev/rules.d on Linux, the state directory on a simulated host.
    std::string udevRulesDir;
    AccessConfig access;
    BindTimeouts timeouts;
    std::chrono::milliseconds groupWait{std::chrono::seconds(30)};
    /// How long one plugin op may take before it is abandoned.
    std::chrono::milliseconds pluginOp{std::chrono::seconds(30)};
    /// How long an assignment that survived a restart of vfiod waits for
    /// its holder to re-attach before it is released.
    std::chrono::milliseconds leaseGrace{std::chrono::seconds(60)};
    /// Exit after this long with no lease and no device taken from its
    /// driver; 0 means never (the default).
    std::chrono::milliseconds idleExit{0};
    /// A SaveState or LoadState stream whose client moves no data for this
    /// long fails with TimedOut and the device is walked back.
    std::chrono::milliseconds migrationIdle{std::chrono::seconds(30)};
    CallLimitsConfig limits;

    /** @brief The configured state directory of this build. */
    static std::string defaultStateDir();
};

/** @brief Where vfiod looks for its configuration without --config. */
std::string defaultConfigPath();

/**
 * @brief Parses vfiod.toml text. Strict: unknown sections and keys, wrong
 * types and out-of-range values are refused rather than ignored, so a typo
 * cannot silently fall back to a default.
 * @param sourceName the file name used in messages.
 * @throws Error(Errc::InvalidArgument) "FILE:LINE:COLUMN: what is wrong".
 */
DaemonConfig parseDaemonConfig(std::string_view text,
                               const std::string& sourceName);

/**
 * @brief Reads and parses a configuration file.
 * @throws Error(Errc::NotFound) when the file does not exist,
 *         Error(Errc::InvalidArgument) as parseDaemonConfig, or when it
 *         cannot be read.
 */
DaemonConfig loadDaemonConfig(const std::string& path);

} // namespace vfiod
