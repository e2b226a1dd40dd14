// copyStream and the client's end of a stream: a client that moves no data
// fails the copy after its idle time, and a cancel ends a copy that waits
// for the client without waiting for data.

#include "base/error.hpp"
#include "migration/migration_stream.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::migration
{
namespace
{

using namespace std::chrono_literals;

/** @brief A pipe (the client's end) and a sink (vfiod's own side). */
struct Stream
{
    Stream()
    {
        int ends[2];
        EXPECT_EQ(::pipe2(ends, O_CLOEXEC), 0);
        reader = ends[0];
        writer = ends[1];
        sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    }
    ~Stream()
    {
        for (int fd : {reader, writer, sink})
        {
            ::close(fd);
        }
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    int reader;
    int writer;
    int sink;
};

TEST(MigrationStream, SilentClientTimesOut)
{
    Stream stream;
    ASSERT_EQ(::write(stream.writer, "abc", 3), 3);
    uint64_t moved = 0;
    try
    {
        copyStream(
            stream.reader, stream.sink, 4096, nullptr,
            [&](uint64_t n) { moved += n; }, ClientEnd{stream.reader, 20ms});
        ADD_FAILURE() << "the copy ended";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::TimedOut);
        EXPECT_STREQ(e.what(), "the client moved no migration data for 20 ms");
    }
    // What came before the silence went through.
    EXPECT_EQ(moved, 3u);
}

TEST(MigrationStream, CancelEndsAWaitForTheClient)
{
    Stream stream;
    CancelToken cancel;
    std::promise<pid_t> copier;
    CopyResult result;
    // No idle limit: only the cancel ends it (a hang is meson's timeout).
    std::thread copy([&] {
        copier.set_value(test::threadId());
        result = copyStream(stream.reader, stream.sink, 4096, &cancel, {},
                            ClientEnd{stream.reader, 0ms});
    });
    // Cancelled once the copy waits in poll for the client's data.
#ifdef SYS_poll
    test::waitUntilBlockedIn(copier.get_future().get(), {SYS_poll, SYS_ppoll});
#else
    test::waitUntilBlockedIn(copier.get_future().get(), {SYS_ppoll});
#endif
    cancel.cancel();
    copy.join();
    EXPECT_EQ(result.end, CopyEnd::Cancelled);
}

TEST(MigrationStream, ClientThatEndsTheStreamEndsTheCopy)
{
    Stream stream;
    ASSERT_EQ(::write(stream.writer, "abcd", 4), 4);
    ::close(stream.writer);
    stream.writer = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    CopyResult result = copyStream(stream.reader, stream.sink, 4096, nullptr,
                                   {}, ClientEnd{stream.reader, 20ms});
    EXPECT_EQ(result.end, CopyEnd::EndOfStream);
    EXPECT_EQ(result.bytes, 4u);
}

} // namespace
} // namespace vfiod::migration
