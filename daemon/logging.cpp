#include "logging.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>

namespace vfiod::daemon
{

namespace
{

std::atomic<LogLevel> currentLevel{LogLevel::Info};
std::mutex writeMutex;

/** syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
int priority(LogLevel level)
{
    switch (level)
    {
        case LogLevel::Error:
            return 3;
        case LogLevel::Warning:
            return 4;
        case LogLevel::Info:
            return 6;
        case LogLevel::Debug:
            return 7;
    }
    return 6;
}

bool toJournal()
{
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return journal;
}

} // namespace

void setLogLevel(LogLevel level) noexcept
{
    currentLevel.store(level);
}

LogLevel logLevel() noexcept
{
    return currentLevel.load();
}

bool logEnabled(LogLevel level) noexcept
{
    return static_cast<int>(level) <= static_cast<int>(currentLevel.load());
}

void logMessage(LogLevel level, std::string_view message)
{
    if (!logEnabled(level))
    {
        return;
    }
    std::string line;
    if (toJournal())
    {
        line = "<" + std::to_string(priority(level)) + ">";
    }
    else
    {
        line = "vfiod: ";
        if (level != LogLevel::Info)
        {
            line += std::string(logLevelName(level)) + ": ";
        }
    }
    line += message;
    line += '\n';

    // One write(2) per line, under a lock, so that lines from worker
    // threads never interleave.
    std::lock_guard lock(writeMutex);
    const char* data = line.data();
    size_t left = line.size();
    while (left > 0)
    {
        ssize_t n = ::write(STDERR_FILENO, data, left);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            return; // nowhere left to report a failing log
        }
        data += n;
        left -= static_cast<size_t>(n);
    }
}

} // namespace vfiod::daemon
