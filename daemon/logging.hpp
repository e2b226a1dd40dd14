#pragma once

#include "daemon_config.hpp"

#include <string_view>

namespace vfiod::daemon
{

/**
 * @brief The daemon's log: one line per message on stderr, which systemd
 * passes to the journal. Under systemd (JOURNAL_STREAM set) each line
 * carries a "<N>" syslog priority prefix so journald keeps the level;
 * otherwise it reads "vfiod: warning: ...". Thread-safe.
 */
void setLogLevel(LogLevel level) noexcept;
LogLevel logLevel() noexcept;

/** @brief Whether a message at @p level would be written. */
bool logEnabled(LogLevel level) noexcept;

void logMessage(LogLevel level, std::string_view message);

inline void logError(std::string_view message)
{
    logMessage(LogLevel::Error, message);
}

inline void logWarning(std::string_view message)
{
    logMessage(LogLevel::Warning, message);
}

inline void logInfo(std::string_view message)
{
    logMessage(LogLevel::Info, message);
}

inline void logDebug(std::string_view message)
{
    logMessage(LogLevel::Debug, message);
}

} // namespace vfiod::daemon
