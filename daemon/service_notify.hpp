#pragma once

#include <string>

namespace vfiod::daemon
{

/**
 * @brief Tells the service manager about the daemon's state (sd_notify).
 * Without systemd (NOTIFY_SOCKET unset) every call does nothing.
 */
void notifyReady(const std::string& status);
void notifyStatus(const std::string& status);
void notifyReloading();
void notifyStopping();

} // namespace vfiod::daemon
