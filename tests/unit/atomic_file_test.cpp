// Atomic files against names planted beside them: a symlink at a name the
// writer could be expected to use is never written through, a symlink at
// the final name is replaced as a name, and a bounded read of a name
// someone else could have planted neither hangs nor reads elsewhere.

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

namespace fs = std::filesystem;

/** @brief The temporary name writeFileAtomically used before issue 17:
 *  predictable by anyone who knows the daemon's pid. */
std::string oldTemporaryOf(const std::string& path)
{
    return path + ".tmp." + std::to_string(::getpid());
}

bool isSymlink(const std::string& path)
{
    return fs::is_symlink(fs::symlink_status(path));
}

bool isRegular(const std::string& path)
{
    return fs::is_regular_file(fs::symlink_status(path));
}

/** @brief The message of the Error(InvalidArgument) that @p read throws. */
template <typename Read>
std::string refusalOf(Read read)
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
    ADD_FAILURE() << "not refused";
    return "";
}

class AtomicFileTest : public ::testing::Test
{
  protected:
    test::TempDir dir;
    /// Outside the directory written in: what a planted link points at.
    test::TempDir elsewhere;
};

TEST_F(AtomicFileTest, WritesTheWholeFileWithItsModeAndLeavesNothingBeside)
{
    std::string path = dir / "file";
    writeFileAtomically(path, "one\n", 0600);
    writeFileAtomically(path, "two\n", 0640);
    EXPECT_EQ(test::readFile(path), "two\n");
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                            fs::directory_iterator()),
              1);
}

TEST_F(AtomicFileTest, ALinkAtTheOldTemporaryNameIsNeverWrittenThrough)
{
    // One link to a file that exists (it must not be overwritten), one to
    // a name that does not (it must not be created).
    std::string victim = elsewhere.write("victim", "precious\n");
    std::string absent = elsewhere / "absent";
    std::string first = dir / "first";
    std::string second = dir / "second";
    fs::create_symlink(victim, oldTemporaryOf(first));
    fs::create_symlink(absent, oldTemporaryOf(second));

    writeFileAtomically(first, "record\n", 0600);
    writeFileAtomically(second, "record\n", 0600);

    EXPECT_EQ(test::readFile(victim), "precious\n");
    EXPECT_FALSE(fs::exists(fs::symlink_status(absent)));
    for (const std::string& path : {first, second})
    {
        EXPECT_TRUE(isRegular(path)) << path;
        EXPECT_EQ(test::readFile(path), "record\n");
        // The planted links are not vfiod's: left as they are.
        EXPECT_TRUE(isSymlink(oldTemporaryOf(path)));
    }
    EXPECT_EQ(fs::read_symlink(oldTemporaryOf(first)), victim);
}

TEST_F(AtomicFileTest, ALinkAtTheFinalNameIsReplacedNotFollowed)
{
    std::string victim = elsewhere.write("victim", "precious\n");
    std::string absent = elsewhere / "absent";
    std::string first = dir / "first";
    std::string second = dir / "second";
    fs::create_symlink(victim, first);
    fs::create_symlink(absent, second); // dangling

    writeFileAtomically(first, "record\n", 0600);
    writeFileAtomically(second, "record\n", 0600);

    EXPECT_EQ(test::readFile(victim), "precious\n");
    EXPECT_FALSE(fs::exists(fs::symlink_status(absent)));
    for (const std::string& path : {first, second})
    {
        EXPECT_TRUE(isRegular(path)) << path;
        EXPECT_EQ(test::readFile(path), "record\n");
    }
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                            fs::directory_iterator()),
              2); // no temporary left behind
}

TEST_F(AtomicFileTest, ADirectoryAtTheFinalNameIsAnErrorThatChangesNothing)
{
    std::string path = dir / "file";
    fs::create_directory(path);
    test::writeFile(path + "/inside", "kept\n");
    try
    {
        writeFileAtomically(path, "record\n");
        ADD_FAILURE() << "no error";
    }
    catch (const std::system_error& e)
    {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(test::readFile(path + "/inside"), "kept\n");
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                            fs::directory_iterator()),
              1);
}

TEST_F(AtomicFileTest, ABoundedReadTakesOnlyARegularFileOfItsSize)
{
    std::string file = dir.write("file", "text\n");
    EXPECT_EQ(readRegularFile(file, 5), std::optional<std::string>("text\n"));
    EXPECT_EQ(readRegularFile(dir / "missing", 5), std::nullopt);

    std::string big = dir.write("big", std::string(6, 'x'));
    EXPECT_NE(refusalOf([&] { readRegularFile(big, 5); }).find("6 bytes"),
              std::string::npos);

    std::string victim = elsewhere.write("victim", "secret\n");
    std::string link = dir / "link";
    fs::create_symlink(victim, link);
    std::string why = refusalOf([&] { readRegularFile(link, 100); });
    EXPECT_NE(why.find(link), std::string::npos) << why;
    EXPECT_NE(why.find("symbolic link"), std::string::npos) << why;

    // No writer ever opens it: a read that opened it blocking would hang
    // here (and meson's timeout would end the test).
    std::string fifo = dir / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    why = refusalOf([&] { readRegularFile(fifo, 100); });
    EXPECT_NE(why.find("a FIFO"), std::string::npos) << why;

    std::string directory = dir / "directory";
    fs::create_directory(directory);
    why = refusalOf([&] { readRegularFile(directory, 100); });
    EXPECT_NE(why.find("a directory"), std::string::npos) << why;
}

} // namespace
} // namespace vfiod
