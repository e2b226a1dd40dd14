#include "logging.hpp"

#include "base/text_escape.hpp"

// Our own CODE_FILE/CODE_LINE/CODE_FUNC (the caller's, from
// std::source_location) instead of the library's (this file's).
#define SD_JOURNAL_SUPPRESS_LOCATION

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace vfiod::daemon
{

namespace
{

std::atomic<LogLevel> currentLevel{LogLevel::Info};
std::mutex writeMutex;

/// -1 until the first message or setLogTarget() decides.
std::atomic<int> currentTarget{-1};

LogTarget target() noexcept
{
    int t = currentTarget.load();
    if (t < 0)
    {
        LogTarget detected = details::detectTarget(
            std::getenv("JOURNAL_STREAM"), std::getenv("VFIOD_LOG_TARGET"),
            STDERR_FILENO);
        // Another thread may have decided meanwhile; either answer is the
        // same detection, so the first store wins and nothing is lost.
        int expected = -1;
        currentTarget.compare_exchange_strong(expected,
                                              static_cast<int>(detected));
        t = currentTarget.load();
    }
    return static_cast<LogTarget>(t);
}

std::string hex4(uint16_t value)
{
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "%04x", value);
    return buffer;
}

/** Parses "DEV:INO" (decimal), as systemd writes JOURNAL_STREAM. */
bool parseStream(const char* text, unsigned long long& dev,
                 unsigned long long& ino) noexcept
{
    std::string_view s(text);
    auto colon = s.find(':');
    if (colon == std::string_view::npos)
    {
        return false;
    }
    auto parse = [](std::string_view part, unsigned long long& out) {
        auto [end, ec] =
            std::from_chars(part.data(), part.data() + part.size(), out);
        return ec == std::errc() && end == part.data() + part.size() &&
               !part.empty();
    };
    return parse(s.substr(0, colon), dev) && parse(s.substr(colon + 1), ino);
}

void writeStderr(const std::string& line)
{
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

bool sendJournal(LogLevel level, std::string_view message,
                 const std::vector<LogField>& fields,
                 const std::source_location& where)
{
    std::vector<std::string> entries =
        details::journalEntries(level, message, fields, where);
    std::vector<iovec> iov;
    iov.reserve(entries.size());
    for (std::string& entry : entries)
    {
        iov.push_back({entry.data(), entry.size()});
    }
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

} // namespace

namespace details
{

std::string safeText(std::string_view text)
{
    return text::escaped(text, maxLogText);
}

int syslogPriority(LogLevel level) noexcept
{
    // LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG.
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

bool validFieldName(std::string_view name) noexcept
{
    // journald drops fields it does not like silently; checking here turns
    // a typo into something visible (VFIOD_INVALID_FIELD).
    if (name.empty() || name.size() > 64 || name[0] == '_' ||
        (name[0] >= '0' && name[0] <= '9'))
    {
        return false;
    }
    for (char c : name)
    {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok)
        {
            return false;
        }
    }
    return true;
}

std::vector<std::string> journalEntries(LogLevel level,
                                        std::string_view message,
                                        const std::vector<LogField>& fields,
                                        const std::source_location& where)
{
    std::vector<std::string> entries;
    entries.reserve(6 + fields.size());
    entries.push_back("MESSAGE=" + safeText(message));
    entries.push_back("PRIORITY=" + std::to_string(syslogPriority(level)));
    entries.emplace_back("SYSLOG_IDENTIFIER=vfiod");
    entries.push_back(std::string("CODE_FILE=") + where.file_name());
    entries.push_back("CODE_LINE=" + std::to_string(where.line()));
    entries.push_back(std::string("CODE_FUNC=") + where.function_name());
    for (const LogField& field : fields)
    {
        if (validFieldName(field.name))
        {
            entries.push_back(std::string(field.name) + "=" +
                              safeText(field.value));
        }
        else
        {
            entries.push_back("VFIOD_INVALID_FIELD=" + safeText(field.name) +
                              "=" + safeText(field.value));
        }
    }
    return entries;
}

std::string stderrLine(LogTarget target, LogLevel level,
                       std::string_view message)
{
    std::string line;
    if (target == LogTarget::Console)
    {
        line = "vfiod[" + std::to_string(::getpid()) + "]: ";
        if (level != LogLevel::Info)
        {
            line += std::string(logLevelName(level)) + ": ";
        }
        line += safeText(message);
    }
    else
    {
        line = "<" + std::to_string(syslogPriority(level)) + ">" +
               safeText(message);
    }
    line += '\n';
    return line;
}

LogTarget detectTarget(const char* journalStream, const char* forced,
                       int stderrFd, const char* socketPath) noexcept
{
    if (forced != nullptr)
    {
        std::string_view f(forced);
        if (f == "journal")
        {
            return LogTarget::Journal;
        }
        if (f == "syslog")
        {
            return LogTarget::SyslogPrefix;
        }
        if (f == "console")
        {
            return LogTarget::Console;
        }
        // "auto" and anything else: detect.
    }
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    struct stat st = {};
    if (journalStream != nullptr && parseStream(journalStream, dev, ino) &&
        ::fstat(stderrFd, &st) == 0 &&
        static_cast<unsigned long long>(st.st_dev) == dev &&
        static_cast<unsigned long long>(st.st_ino) == ino)
    {
        // The stream is the journal's; without its native socket (journald
        // not up, or a container's stream proxy) "<N>" lines still carry
        // the priority.
        return ::access(socketPath, F_OK) == 0 ? LogTarget::Journal
                                               : LogTarget::SyslogPrefix;
    }
    // JOURNAL_STREAM set but not our stderr: somebody redirected it (to a
    // file, a pipe), which wants plain lines.
    return LogTarget::Console;
}

} // namespace details

LogField addressField(const PciAddress& address)
{
    return {logfield::pciAddress, address.str()};
}

LogField vendorField(uint16_t vendorId)
{
    return {logfield::vendorId, hex4(vendorId)};
}

LogField deviceIdField(uint16_t deviceId)
{
    return {logfield::deviceId, hex4(deviceId)};
}

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

void setLogTarget(LogTarget target) noexcept
{
    currentTarget.store(static_cast<int>(target));
}

LogTarget logTarget() noexcept
{
    return target();
}

void logStructured(LogLevel level, std::string_view message,
                   const std::vector<LogField>& fields,
                   std::source_location where)
{
    if (!logEnabled(level))
    {
        return;
    }
    LogTarget to = target();
    if (to == LogTarget::Journal)
    {
        if (sendJournal(level, message, fields, where))
        {
            return;
        }
        // journald refused it (overloaded, gone): stderr still is there,
        // and under systemd it is the journal's stream, which reads "<N>".
        to = LogTarget::SyslogPrefix;
    }
    writeStderr(details::stderrLine(to, level, message));
}

void logNotice(NoticeLevel level, const std::string& message)
{
    switch (level)
    {
        case NoticeLevel::Debug:
            logDebug(message);
            return;
        case NoticeLevel::Info:
            logInfo(message);
            return;
        case NoticeLevel::Warning:
            logWarning(message);
            return;
    }
}

} // namespace vfiod::daemon
