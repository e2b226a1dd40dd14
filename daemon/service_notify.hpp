#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace vfiod::daemon
{

/**
 * @brief Tells the service manager about the daemon's state (sd_notify,
 * see sd_notify(3)). Without systemd (NOTIFY_SOCKET unset) every call
 * does nothing. Safe from any thread: each call is one datagram.
 *
 * The STATUS= text is what `systemctl status vfiod` shows on its
 * "Status:" line, so it says what the daemon is doing in a few words.
 */

/** @brief READY=1 with a STATUS= line: start-up or a reload finished. */
void notifyReady(const std::string& status);

/** @brief STATUS= alone. */
void notifyStatus(const std::string& status);

/** @brief The steady-state status: "Managing N devices (M assigned)". */
std::string managingStatus(std::size_t devices, std::size_t assigned);

/**
 * @brief RELOADING=1 with STATUS=Reloading configuration. Send
 * notifyReady() when the reload is over. Carries MONOTONIC_USEC as well,
 * which Type=notify-reload (systemd >= 253) requires and older managers
 * ignore.
 */
void notifyReloading();

/** @brief STOPPING=1 with STATUS=Stopping. */
void notifyStopping();

/**
 * @brief The watchdog interval the service manager expects keep-alives
 * within (WATCHDOG_USEC, for this process per WATCHDOG_PID), or
 * std::nullopt when the unit has no WatchdogSec= (sd_watchdog_enabled(3)).
 */
std::optional<std::chrono::microseconds> watchdogInterval();

/** @brief WATCHDOG=1: the daemon's event loop is alive. */
void notifyWatchdog();

} // namespace vfiod::daemon
