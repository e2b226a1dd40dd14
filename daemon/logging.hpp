#pragma once

#include "base/notice.hpp"
#include "base/pci_address.hpp"
#include "config/daemon_config.hpp"

#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod::daemon
{

/**
 * @brief The daemon's log. Thread-safe.
 *
 * Where it goes is decided once, at the first message (or by
 * setLogTarget()):
 * - LogTarget::Journal: the native journal protocol (sd_journal_sendv),
 *   each message with PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC and
 *   the structured fields the caller gave (PCI_ADDRESS, OPERATION, ...),
 *   so that `journalctl PCI_ADDRESS=0000:03:00.0` finds every message about
 *   one device. Chosen when stderr is the journal stream systemd set up
 *   (JOURNAL_STREAM names stderr's device and inode: the convention of
 *   systemd.exec(5), which a redirected stderr does not match) and
 *   journald's native socket exists (sd_journal_sendv() reports success
 *   when it does not, so that is checked first). A message the journal
 *   refuses falls back to the next target.
 * - LogTarget::SyslogPrefix: stderr, one line per message with a "<N>"
 *   syslog priority prefix, which journald and most supervisors parse.
 * - LogTarget::Console: stderr, "vfiod[PID]: warning: message" (no level
 *   word for info), for a terminal or a log file.
 *
 * VFIOD_LOG_TARGET=journal|syslog|console|auto in the environment forces
 * one; "auto" (or unset) detects as above.
 */
enum class LogTarget
{
    Journal,
    SyslogPrefix,
    Console,
};

/** @brief One structured journal field: NAME must be a valid field name. */
struct LogField
{
    std::string_view name;
    std::string value;
};

/**
 * @brief The field names vfiod uses, so that every message about a device
 * carries the same ones (journalctl -F PCI_ADDRESS lists them).
 */
namespace logfield
{
inline constexpr std::string_view pciAddress = "PCI_ADDRESS";
inline constexpr std::string_view vendorId = "VENDOR_ID";
inline constexpr std::string_view deviceId = "DEVICE_ID";
inline constexpr std::string_view operation = "OPERATION";
inline constexpr std::string_view error = "ERROR";
inline constexpr std::string_view driver = "DRIVER";
inline constexpr std::string_view iommuGroup = "IOMMU_GROUP";
inline constexpr std::string_view owner = "OWNER";
} // namespace logfield

/** @brief PCI_ADDRESS=0000:03:00.0 */
LogField addressField(const PciAddress& address);
/** @brief VENDOR_ID=10de and DEVICE_ID=1eb8 (lowercase hex, as in sysfs). */
LogField vendorField(uint16_t vendorId);
LogField deviceIdField(uint16_t deviceId);

void setLogLevel(LogLevel level) noexcept;
LogLevel logLevel() noexcept;

/** @brief Whether a message at @p level would be written. */
bool logEnabled(LogLevel level) noexcept;

/** @brief Overrides the detection described at LogTarget. */
void setLogTarget(LogTarget target) noexcept;
LogTarget logTarget() noexcept;

/**
 * @brief A message with structured fields (see LogTarget::Journal), e.g.
 * logStructured(LogLevel::Error, "bind failed: ...",
 *               {addressField(address), {logfield::operation, "bind"}}).
 * On stderr only the message is written: it must read well on its own.
 */
void logStructured(
    LogLevel level, std::string_view message,
    const std::vector<LogField>& fields,
    std::source_location where = std::source_location::current());

inline void
    logMessage(LogLevel level, std::string_view message,
               std::source_location where = std::source_location::current())
{
    logStructured(level, message, {}, where);
}

inline void
    logError(std::string_view message,
             std::source_location where = std::source_location::current())
{
    logStructured(LogLevel::Error, message, {}, where);
}

inline void
    logWarning(std::string_view message,
               std::source_location where = std::source_location::current())
{
    logStructured(LogLevel::Warning, message, {}, where);
}

inline void
    logInfo(std::string_view message,
            std::source_location where = std::source_location::current())
{
    logStructured(LogLevel::Info, message, {}, where);
}

inline void
    logDebug(std::string_view message,
             std::source_location where = std::source_location::current())
{
    logStructured(LogLevel::Debug, message, {}, where);
}

/** @brief The core's notices (base/notice.hpp), logged at their level. */
void logNotice(NoticeLevel level, const std::string& message);

namespace details
{

/**
 * @brief The most of one message or field value the log keeps: 4 KiB,
 * several times the longest message vfiod writes (a failure with its
 * kernel error and device path), so that nothing of its own is cut while
 * a caller's megabyte is.
 */
inline constexpr size_t maxLogText = 4096;

/**
 * @brief @p text as the log writes it: control characters escaped ("\n",
 * "\x1b", see text::escaped) and cut at maxLogText. Messages quote what
 * callers sent (a state name, a driver, an option), and a line break or
 * an escape sequence in it would otherwise forge a line of the log or
 * rewrite a terminal; so every message and field goes through here,
 * whatever its origin.
 */
std::string safeText(std::string_view text);

/** @brief syslog priority of @p level: 3, 4, 6 or 7. */
int syslogPriority(LogLevel level) noexcept;

/**
 * @brief Whether @p name is a journal field a client may set: 1 to 64
 * characters of A-Z, 0-9 and '_', not starting with a digit or '_'.
 */
bool validFieldName(std::string_view name) noexcept;

/**
 * @brief The "NAME=value" entries of one journal message, in the order
 * sent: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE,
 * CODE_FUNC, then @p fields; the message and the values through
 * safeText(). A field with an invalid name is sent as
 * VFIOD_INVALID_FIELD=NAME=value rather than dropped or refused.
 */
std::vector<std::string> journalEntries(LogLevel level,
                                        std::string_view message,
                                        const std::vector<LogField>& fields,
                                        const std::source_location& where);

/** @brief The stderr line (with '\n') for @p target (not Journal): one
 * line, the message through safeText(). */
std::string stderrLine(LogTarget target, LogLevel level,
                       std::string_view message);

/** @brief Where journald listens for native messages. */
inline constexpr const char* journalSocket = "/run/systemd/journal/socket";

/**
 * @brief The automatic choice: @p journalStream is JOURNAL_STREAM (or
 * nullptr), @p forced VFIOD_LOG_TARGET (or nullptr), @p stderrFd the fd
 * to compare with, @p socketPath journald's native socket.
 */
LogTarget detectTarget(const char* journalStream, const char* forced,
                       int stderrFd,
                       const char* socketPath = journalSocket) noexcept;

} // namespace details

} // namespace vfiod::daemon
