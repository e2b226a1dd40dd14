#include "base/error.hpp"
#include "base/toml_reader.hpp"
#include "test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using toml_reader::Table;

/** @brief The message of the Error @p read throws, "" when it throws none. */
template <typename Read>
std::string errorOf(Read read)
{
    try
    {
        read();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

/** @brief Parses @p text as "t.toml" and reads its [t] table with @p read. */
template <typename Read>
std::string errorIn(const std::string& text, Read read)
{
    return errorOf([&] {
        toml::table root = toml_reader::parse(text, "t.toml");
        read(Table("", root).table("t").value());
    });
}

TEST(TomlReader, SyntaxErrorIsRefusedWithItsLocation)
{
    std::string message =
        errorOf([] { toml_reader::parse("[t]\nkey = = 1\n", "t.toml"); });
    EXPECT_THAT(message, StartsWith("t.toml:2:"));
}

TEST(TomlReader, ErrorsAreFileLineColumnThenMessage)
{
    // Line and column are 1-based and point at the value, not the key.
    EXPECT_EQ(errorIn("[t]\n\n  answer =   \"42\"\n",
                      [](const Table& t) {
                          t.integer("answer", {0, 100});
                      }),
              "t.toml:3:14: \"t.answer\" must be an integer, not a string");
}

TEST(TomlReader, UnknownKeyIsRefusedWithTheKnownOnes)
{
    const std::string text = "[t]\nname = \"a\"\nnmae = \"b\"\n";
    EXPECT_EQ(errorIn(text,
                      [](const Table& t) {
                          t.only({"size", "name"});
                      }),
              "t.toml:3:1: unknown key \"t.nmae\" (known: name, size)");
    EXPECT_EQ(errorIn(text,
                      [](const Table& t) {
                          t.read({{"name", [](const std::string&,
                                              const toml::node&) {}}});
                      }),
              "t.toml:3:1: unknown key \"t.nmae\" (known: name)");
    // The first mistake of the file, not of toml++'s sorted table.
    EXPECT_EQ(errorIn("[t]\nzeta = 1\nalpha = 2\n",
                      [](const Table& t) { t.only({"name"}); }),
              "t.toml:2:1: unknown key \"t.zeta\" (known: name)");
    // The root's keys are not qualified.
    EXPECT_EQ(errorOf([] {
                  toml::table root = toml_reader::parse("x = 1\n", "r.toml");
                  Table("", root).only({"t"});
              }),
              "r.toml:1:1: unknown key \"x\" (known: t)");
}

TEST(TomlReader, WrongTypeSaysWhatWasExpectedAndFound)
{
    auto error = [](const std::string& value, auto read) {
        return errorIn("[t]\nk = " + value + "\n", read);
    };
    EXPECT_EQ(error("1", [](const Table& t) { t.string("k"); }),
              "t.toml:2:5: \"t.k\" must be a string, not an integer");
    EXPECT_EQ(error("\"yes\"", [](const Table& t) { t.boolean("k"); }),
              "t.toml:2:5: \"t.k\" must be a boolean, not a string");
    EXPECT_EQ(error("1.5", [](const Table& t) { t.milliseconds("k", 1, 9); }),
              "t.toml:2:5: \"t.k\" must be an integer number of "
              "milliseconds, not a float");
    EXPECT_EQ(error("\"a\"", [](const Table& t) { t.strings("k"); }),
              "t.toml:2:5: \"t.k\" must be an array of strings, not a string");
    // An element is named by its array and located at itself.
    EXPECT_EQ(error("[\"a\", true]", [](const Table& t) { t.strings("k"); }),
              "t.toml:2:11: \"t.k\" must be a string, not a boolean");
    EXPECT_EQ(error("2024-01-01", [](const Table& t) { t.table("k"); }),
              "t.toml:2:5: \"k\" must be a table, not a date or time");
    EXPECT_EQ(error("{ a = 1 }", [](const Table& t) { t.tables("k"); }),
              "t.toml:2:5: \"t.k\" must be an array of tables ([[k]]), not a "
              "table");
    EXPECT_EQ(error("[1]", [](const Table& t) { t.tables("k"); }),
              "t.toml:2:6: \"k\" must be a table, not an integer");
}

TEST(TomlReader, IntegerOutOfRangeShowsTheBounds)
{
    auto error = [](const std::string& value, toml_reader::IntRange range) {
        return errorIn("[t]\nk = " + value + "\n",
                       [&](const Table& t) { t.integer("k", range); });
    };
    EXPECT_EQ(error("1024", {-1, 1023}),
              "t.toml:2:5: \"t.k\" = 1024 is out of range (-1 to 1023)");
    EXPECT_EQ(error("-2", {-1, 1023}),
              "t.toml:2:5: \"t.k\" = -2 is out of range (-1 to 1023)");
    // Ids read in hex; zero and negative values stay decimal.
    EXPECT_EQ(error("0x10000", {0, 0xffff, true}),
              "t.toml:2:5: \"t.k\" = 0x10000 is out of range (0 to 0xffff)");
    EXPECT_EQ(error("-1", {0, 0xffff, true}),
              "t.toml:2:5: \"t.k\" = -1 is out of range (0 to 0xffff)");
    EXPECT_EQ(errorIn("[t]\nk = 0\n",
                      [](const Table& t) { t.milliseconds("k", 1, 3600000); }),
              "t.toml:2:5: \"t.k\" = 0 is out of range (1 to 3600000 ms)");
}

TEST(TomlReader, MissingRequiredKeyPointsAtTheTable)
{
    EXPECT_EQ(errorIn("x = 0\n\n[t]\nname = \"a\"\n",
                      [](const Table& t) { t.need("size"); }),
              "t.toml:3:1: missing required key \"t.size\"");
}

TEST(TomlReader, OneOfListsTheChoices)
{
    static constexpr std::string_view levels[] = {"error", "info"};
    EXPECT_EQ(errorIn("[t]\nk = \"loud\"\n",
                      [](const Table& t) { t.oneOf("k", levels); }),
              "t.toml:2:5: \"t.k\" must be one of error, info, not \"loud\"");
}

TEST(TomlReader, BadUserNameIsRefusedAtTheElement)
{
    EXPECT_EQ(errorIn("[t]\nusers = [\"alice\", \"bob smith\"]\n",
                      [](const Table& t) {
                          t.names("users", toml_reader::userName);
                      }),
              "t.toml:2:19: \"bob smith\" in \"t.users\" is not a user or "
              "group name (no white space, control characters, : , or /, not "
              "starting with -, at most 256 bytes)");
}

TEST(TomlReader, UserNames)
{
    using toml_reader::isUserName;
    // useradd's default names, POSIX's portable ones, Samba machine
    // accounts, a uid without an account, and names from a directory
    // service (sssd, winbind), which getpwnam resolves as well.
    const std::string longest(256, 'a');
    for (const std::string& name : std::vector<std::string>{
             "alice", "svc_vm-1$", "_apt", "Alice", "john.doe", "1kvm", "1000",
             "a", "abcdefghijklmnopqrstuvwxyz0123456", "alice@example.com",
             "EXAMPLE\\alice", "caf\xc3\xa9", longest})
    {
        EXPECT_TRUE(isUserName(name)) << name;
    }
    for (const std::string& name : std::vector<std::string>{
             "", "-alice", ".", "..", "bob smith", "a:b", "a,b", "a/b",
             "al\tice", "a\nb", "a\x7f", longest + "a"})
    {
        EXPECT_FALSE(isUserName(name)) << name;
    }
}

TEST(TomlReader, ValidTableReadFully)
{
    toml::table root = toml_reader::parse(R"(
[server]
name = "vm-host"
port = 0x1f90
verbose = true
timeout_ms = 250
users = ["alice", "1000"]
tags = []
level = "info"

[server.limits]
open = 64

[[disk]]
path = "/a"

[[disk]]
path = "/b"
)",
                                          "full.toml");
    Table top("", root);
    top.only({"server", "disk"});

    Table server = top.table("server").value();
    server.only({"name", "port", "verbose", "timeout_ms", "users", "tags",
                 "level", "limits", "absent"});
    static constexpr std::string_view levels[] = {"error", "info"};
    EXPECT_EQ(server.name(), "server");
    EXPECT_EQ(server.key("port"), "server.port");
    EXPECT_EQ(server.string("name"), "vm-host");
    EXPECT_EQ(server.integer("port", {1, 0xffff, true}), 8080);
    EXPECT_EQ(server.boolean("verbose"), true);
    EXPECT_EQ(server.milliseconds("timeout_ms", 1, 1000), 250ms);
    EXPECT_THAT(server.names("users", toml_reader::userName),
                ElementsAre("alice", "1000"));
    EXPECT_THAT(server.strings("tags"), IsEmpty());
    EXPECT_EQ(server.oneOf("level", levels), "info");
    EXPECT_EQ(server.table("limits")->integer("open", {0, 100}), 64);
    EXPECT_EQ(server.table("limits")->name(), "limits");

    // Absent keys: nullopt or empty, and need() refuses.
    EXPECT_EQ(server.find("absent"), nullptr);
    EXPECT_EQ(server.string("absent"), std::nullopt);
    EXPECT_EQ(server.integer("absent", {0, 1}), std::nullopt);
    EXPECT_THAT(server.strings("absent"), IsEmpty());
    EXPECT_FALSE(server.table("absent").has_value());
    EXPECT_THROW(server.need("absent"), Error);

    std::vector<std::string> paths;
    for (const Table& disk : top.tables("disk"))
    {
        disk.only({"path"});
        EXPECT_EQ(disk.name(), "disk");
        paths.push_back(*disk.string("path"));
    }
    EXPECT_THAT(paths, ElementsAre("/a", "/b"));

    // The handler form sees every key once, in document order, qualified.
    std::vector<std::string> seen;
    auto note = [&](const std::string& key, const toml::node&) {
        seen.push_back(key);
    };
    server.read({{"name", note},
                 {"port", note},
                 {"verbose", note},
                 {"timeout_ms", note},
                 {"users", note},
                 {"tags", note},
                 {"level", note},
                 {"limits", note}});
    EXPECT_THAT(seen,
                ElementsAre("server.name", "server.port", "server.verbose",
                            "server.timeout_ms", "server.users", "server.tags",
                            "server.level", "server.limits"));
}

TEST(TomlReader, ReadFile)
{
    try
    {
        toml_reader::readFile("/nonexistent/x.toml", "test file");
        FAIL() << "a missing file was read";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
        EXPECT_STREQ(e.what(), "/nonexistent/x.toml: no such test file");
    }

    std::string path = (std::filesystem::temp_directory_path() /
                        ("toml-reader-test." + std::to_string(::getpid())))
                           .string();
    std::ofstream(path) << "[t]\nk = 1\n";
    std::string text = toml_reader::readFile(path, "test file");
    std::filesystem::remove(path);
    EXPECT_EQ(text, "[t]\nk = 1\n");
    // Errors name the file as given to parse().
    EXPECT_THAT(errorOf([&] {
                    toml::table root = toml_reader::parse(text, path);
                    Table("", root).table("t")->string("k");
                }),
                StartsWith(path + ":2:5: "));
}

/** @brief The message readFile() refuses @p path with. */
std::string readError(const std::string& path)
{
    return errorOf([&] { toml_reader::readFile(path, "test file"); });
}

TEST(TomlReader, ReadFileRefusesAFifoWithoutWaitingForAWriter)
{
    test::TempDir tmp;
    std::string fifo = tmp / "fifo.toml";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // No writer ever opens it: a blocking open would hang here.
    EXPECT_EQ(readError(fifo), fifo + ": not a regular file (FIFO)");
}

TEST(TomlReader, ReadFileRefusesADirectory)
{
    test::TempDir tmp;
    std::filesystem::create_directory(tmp / "dir.toml");
    EXPECT_EQ(readError(tmp / "dir.toml"),
              tmp / "dir.toml" + ": is a directory");
}

TEST(TomlReader, ReadFileRefusesALinkToADevice)
{
    test::TempDir tmp;
    std::filesystem::create_symlink("/dev/zero", tmp / "zero.toml");
    // /dev/zero never ends: refused before a byte is read.
    EXPECT_EQ(readError(tmp / "zero.toml"),
              tmp / "zero.toml" + ": not a regular file (character device)");
}

TEST(TomlReader, ReadFileFollowsALinkToARegularFile)
{
    test::TempDir tmp;
    tmp.write("real.toml", "k = 1\n");
    std::filesystem::create_symlink("real.toml", tmp / "link.toml");
    EXPECT_EQ(toml_reader::readFile(tmp / "link.toml", "test file"), "k = 1\n");
}

TEST(TomlReader, ReadFileRefusesAFileOverTheBound)
{
    test::TempDir tmp;
    std::string atBound =
        tmp.write("max.toml", std::string(toml_reader::maxFileSize, '#'));
    EXPECT_EQ(toml_reader::readFile(atBound, "test file").size(),
              toml_reader::maxFileSize);

    std::string over =
        tmp.write("big.toml", std::string(toml_reader::maxFileSize + 1, '#'));
    EXPECT_EQ(readError(over), over + ": too large (1048577 bytes, at most "
                                      "1048576)");
}

} // namespace
} // namespace vfiod
