#include "base/error.hpp"
#include "binding/kernel_call.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using vfiod::Errc;
using vfiod::Error;

TEST(KernelCall, ReturnsWhenTheCallReturns)
{
    bool ran = false;
    // Hours: the timeout is not under test here, no slow machine reaches it.
    vfiod::runWithTimeout([&ran] { ran = true; }, 1h, "test call");
    EXPECT_TRUE(ran);
}

TEST(KernelCall, RethrowsTheCallsError)
{
    EXPECT_THROW(
        vfiod::runWithTimeout(
            [] { throw std::system_error(EBUSY, std::generic_category()); }, 1h,
            "test call"),
        std::system_error);
}

TEST(KernelCall, TimesOutAndLetsTheCallFinishLater)
{
    // The shared state outlives the test body's wait, like a kernel call.
    struct Gate
    {
        std::mutex mutex;
        std::condition_variable cv;
        bool open = false;
        bool finished = false;
    };
    auto gate = std::make_shared<Gate>();
    try
    {
        vfiod::runWithTimeout(
            [gate] {
                std::unique_lock lock(gate->mutex);
                gate->cv.wait(lock, [&] { return gate->open; });
                gate->finished = true;
                gate->cv.notify_all();
            },
            50ms, "unbind of 0000:03:00.0");
        FAIL() << "no timeout";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::TimedOut);
        EXPECT_NE(std::string(e.what()).find("unbind of 0000:03:00.0"),
                  std::string::npos);
    }
    std::unique_lock lock(gate->mutex);
    gate->open = true;
    gate->cv.notify_all();
    // No time bound: a call that never finishes hangs the test until
    // meson's timeout.
    gate->cv.wait(lock, [&] { return gate->finished; });
}
