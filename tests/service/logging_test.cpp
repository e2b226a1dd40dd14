// The daemon's log: journal entries with their structured fields, the
// stderr formats, and the choice between them (JOURNAL_STREAM).

#include "logging.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace vfiod::daemon
{
namespace
{

bool has(const std::vector<std::string>& entries, const std::string& entry)
{
    return std::find(entries.begin(), entries.end(), entry) != entries.end();
}

TEST(JournalEntries, CarryMessagePriorityIdentifierAndLocation)
{
    auto where = std::source_location::current();
    auto entries =
        details::journalEntries(LogLevel::Warning, "hello", {}, where);
    ASSERT_GE(entries.size(), 6u);
    EXPECT_EQ(entries[0], "MESSAGE=hello");
    EXPECT_TRUE(has(entries, "PRIORITY=4"));
    EXPECT_TRUE(has(entries, "SYSLOG_IDENTIFIER=vfiod"));
    EXPECT_TRUE(has(entries, std::string("CODE_FILE=") + where.file_name()));
    EXPECT_TRUE(has(entries, "CODE_LINE=" + std::to_string(where.line())));
    EXPECT_TRUE(
        has(entries, std::string("CODE_FUNC=") + where.function_name()));
}

TEST(JournalEntries, CarryTheDeviceFields)
{
    PciAddress address = PciAddress::parse("0000:3b:00.1");
    auto entries =
        details::journalEntries(LogLevel::Error, "bind failed",
                                {addressField(address),
                                 vendorField(0x10de),
                                 deviceIdField(0x1eb8),
                                 {logfield::operation, "bind"},
                                 {logfield::error, "Busy: in use\nby qemu"}},
                                std::source_location::current());
    EXPECT_TRUE(has(entries, "PRIORITY=3"));
    EXPECT_TRUE(has(entries, "PCI_ADDRESS=0000:3b:00.1"));
    EXPECT_TRUE(has(entries, "VENDOR_ID=10de"));
    EXPECT_TRUE(has(entries, "DEVICE_ID=1eb8"));
    EXPECT_TRUE(has(entries, "OPERATION=bind"));
    // Escaped like the message: a value may quote what a caller sent.
    EXPECT_TRUE(has(entries, "ERROR=Busy: in use\\nby qemu"));
}

// What a caller sends reaches messages (a state name, a driver, an
// option): its line breaks and escape sequences are escaped, and a
// megabyte of it is cut, so it can neither forge a line nor flood the log.
TEST(SafeText, EscapesControlCharactersAndCuts)
{
    EXPECT_EQ(details::safeText("a\nb\rc\td\x1b[31me\x7f"),
              "a\\nb\\rc\\td\\x1b[31me\\x7f");
    // Printable UTF-8 passes; C1 controls and invalid bytes do not.
    EXPECT_EQ(details::safeText("caf\xc3\xa9 \xc2\x9b \xff"),
              "caf\xc3\xa9 \\u009b \\xff");
    std::string big(1 << 20, 'x');
    std::string cut = details::safeText(big);
    EXPECT_EQ(cut, std::string(details::maxLogText, 'x') + "…(" +
                       std::to_string(big.size() - details::maxLogText) +
                       " bytes cut)");
}

TEST(JournalEntries, MessageAndFieldsAreEscaped)
{
    auto entries = details::journalEntries(
        LogLevel::Info, "SetMigrationState \"X\nforged\x1b[2J\"",
        {{logfield::error, std::string(10000, 'e') + "\n"}},
        std::source_location::current());
    EXPECT_EQ(entries[0], "MESSAGE=SetMigrationState \"X\\nforged\\x1b[2J\"");
    EXPECT_TRUE(has(entries, "ERROR=" + std::string(details::maxLogText, 'e') +
                                 "…(5905 bytes cut)"));
}

TEST(JournalEntries, SmallIdsArePadded)
{
    EXPECT_EQ(vendorField(0x8086).value, "8086");
    EXPECT_EQ(deviceIdField(0x1).value, "0001");
    EXPECT_EQ(vendorField(0x1).name, "VENDOR_ID");
}

TEST(JournalEntries, AnInvalidFieldNameIsKeptVisibly)
{
    auto entries = details::journalEntries(
        LogLevel::Info, "m", {{"pci_address", "x"}, {"_PID", "1"}},
        std::source_location::current());
    EXPECT_TRUE(has(entries, "VFIOD_INVALID_FIELD=pci_address=x"));
    // Trusted fields (leading '_') are journald's to set, never ours.
    EXPECT_TRUE(has(entries, "VFIOD_INVALID_FIELD=_PID=1"));
    EXPECT_FALSE(has(entries, "_PID=1"));
}

TEST(FieldNames, FollowTheJournalRules)
{
    EXPECT_TRUE(details::validFieldName("PCI_ADDRESS"));
    EXPECT_TRUE(details::validFieldName("A1"));
    EXPECT_FALSE(details::validFieldName(""));
    EXPECT_FALSE(details::validFieldName("_TRUSTED"));
    EXPECT_FALSE(details::validFieldName("1ABC"));
    EXPECT_FALSE(details::validFieldName("lower"));
    EXPECT_FALSE(details::validFieldName("WITH-DASH"));
    EXPECT_FALSE(details::validFieldName("A=B"));
    EXPECT_TRUE(details::validFieldName(std::string(64, 'A')));
    EXPECT_FALSE(details::validFieldName(std::string(65, 'A')));
}

TEST(StderrLine, OneLinePerMessage)
{
    EXPECT_EQ(
        details::stderrLine(LogTarget::SyslogPrefix, LogLevel::Error, "boom"),
        "<3>boom\n");
    // A line break in a message is escaped: one message, one line.
    EXPECT_EQ(
        details::stderrLine(LogTarget::SyslogPrefix, LogLevel::Debug, "a\nb"),
        "<7>a\\nb\n");
    std::string pid = std::to_string(::getpid());
    EXPECT_EQ(details::stderrLine(LogTarget::Console, LogLevel::Info,
                                  "x\nvfiod[1]: forged\x1b[2J"),
              "vfiod[" + pid + "]: x\\nvfiod[1]: forged\\x1b[2J\n");
}

TEST(StderrLine, ConsoleNamesProgramPidAndLevel)
{
    std::string pid = std::to_string(::getpid());
    EXPECT_EQ(details::stderrLine(LogTarget::Console, LogLevel::Warning, "w"),
              "vfiod[" + pid + "]: warning: w\n");
    EXPECT_EQ(details::stderrLine(LogTarget::Console, LogLevel::Error, "e"),
              "vfiod[" + pid + "]: error: e\n");
    // Info is the normal case and carries no level word.
    EXPECT_EQ(details::stderrLine(LogTarget::Console, LogLevel::Info, "i"),
              "vfiod[" + pid + "]: i\n");
}

class DetectTarget : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        // Any file that exists stands for journald's socket.
        socket = "/proc/self/exe";
        file = std::tmpfile();
        ASSERT_NE(file, nullptr);
        fd = ::fileno(file);
        struct stat st = {};
        ASSERT_EQ(::fstat(fd, &st), 0);
        stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    }
    void TearDown() override
    {
        std::fclose(file);
    }

    std::FILE* file = nullptr;
    int fd = -1;
    std::string stream; ///< JOURNAL_STREAM naming the file
    std::string other;  ///< naming something else
    const char* socket = nullptr;
    const char* noSocket = "/nonexistent/journal/socket";
};

TEST_F(DetectTarget, JournalWhenStderrIsTheJournalStream)
{
    EXPECT_EQ(details::detectTarget(stream.c_str(), nullptr, fd, socket),
              LogTarget::Journal);
}

TEST_F(DetectTarget, SyslogPrefixWithoutJournaldsSocket)
{
    // sd_journal_sendv() drops messages silently without the socket.
    EXPECT_EQ(details::detectTarget(stream.c_str(), nullptr, fd, noSocket),
              LogTarget::SyslogPrefix);
}

TEST_F(DetectTarget, ConsoleWhenStderrWasRedirected)
{
    EXPECT_EQ(details::detectTarget(other.c_str(), nullptr, fd, socket),
              LogTarget::Console);
    EXPECT_EQ(details::detectTarget(nullptr, nullptr, fd, socket),
              LogTarget::Console);
}

TEST_F(DetectTarget, MalformedJournalStreamIsIgnored)
{
    for (const char* bad : {"", ":", "12", "a:b", "1:2:3", "1:", ":2"})
    {
        EXPECT_EQ(details::detectTarget(bad, nullptr, fd, socket),
                  LogTarget::Console)
            << bad;
    }
}

TEST_F(DetectTarget, ForcedByVfiodLogTarget)
{
    EXPECT_EQ(details::detectTarget(nullptr, "journal", fd, socket),
              LogTarget::Journal);
    EXPECT_EQ(details::detectTarget(stream.c_str(), "syslog", fd, socket),
              LogTarget::SyslogPrefix);
    EXPECT_EQ(details::detectTarget(stream.c_str(), "console", fd, socket),
              LogTarget::Console);
    EXPECT_EQ(details::detectTarget(stream.c_str(), "auto", fd, socket),
              LogTarget::Journal);
    EXPECT_EQ(details::detectTarget(other.c_str(), "nonsense", fd, socket),
              LogTarget::Console);
}

TEST(LogLevel, FiltersBelowTheLevel)
{
    LogLevel saved = logLevel();
    setLogLevel(LogLevel::Warning);
    EXPECT_TRUE(logEnabled(LogLevel::Error));
    EXPECT_TRUE(logEnabled(LogLevel::Warning));
    EXPECT_FALSE(logEnabled(LogLevel::Info));
    setLogLevel(saved);
}

} // namespace
} // namespace vfiod::daemon
