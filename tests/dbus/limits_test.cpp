// Bounded work: stuck migration streams hold neither Cancel nor other
// devices, an idle stream times out and the device is walked back, and a
// flood of calls from an unprivileged user (held by polkit) neither ends
// vfiod nor keeps root's call on the same device from being answered. The
// real vfiod on conf/sim-host.toml with the built plugins.

#include "vfiod_fixture.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

const std::array<std::string, 4> migratable{"0000:0b:00.0", "0000:0b:00.1",
                                            "0000:0b:00.2", "0000:0b:00.3"};
const std::string nic = "0000:03:00.0";

constexpr const char* limitsExceeded = "org.vfiod1.Error.LimitsExceeded";

class LimitsTest : public VfiodTest
{
  protected:
    void start(const std::string& config)
    {
        bus->startVfiod(requiredEnv("VFIOD_SOURCE_ROOT") +
                            "/conf/sim-host.toml",
                        config + "[daemon]\nplugin_dir = \"" +
                            requiredEnv("VFIOD_TEST_PLUGIN_DIR") + "\"\n");
        connection = bus->connect();
        manager = std::make_unique<ManagerProxy>(*connection);
    }
};

/** @brief A pipe whose write end the test holds without writing. */
struct SilentPipe
{
    SilentPipe()
    {
        int ends[2];
        EXPECT_EQ(::pipe2(ends, O_CLOEXEC), 0);
        reader = ends[0];
        writer = ends[1];
    }
    ~SilentPipe()
    {
        ::close(writer);
        if (reader >= 0)
        {
            ::close(reader);
        }
    }
    SilentPipe(const SilentPipe&) = delete;
    SilentPipe& operator=(const SilentPipe&) = delete;

    int reader = -1;
    int writer = -1;
};

TEST_F(LimitsTest, StuckLoadsHoldNeitherCancelNorOtherDevices)
{
    // No idle limit to speak of: the loads stay stuck until cancelled.
    start("[timeouts]\nmigration_idle_ms = 3600000\n");
    auto recorder = recordSignals();
    std::array<SilentPipe, 4> pipes;
    std::array<std::pair<std::string, std::string>, 4> failures;
    std::vector<std::thread> loads;
    for (size_t i = 0; i < migratable.size(); ++i)
    {
        int reader = std::exchange(pipes[i].reader, -1); // the load's now
        loads.emplace_back([&, i, reader] {
            auto own = bus->connect();
            DeviceProxy dev(*own, pathOf(migratable[i]));
            failures[i] = failureOf([&] {
                dev.LoadState(sdbus::UnixFd(reader, sdbus::adopt_fd), {});
            });
        });
    }
    // Every load is in RESUMING (its "resume" progress comes right before
    // it waits for data) and waits for data that never comes: four stuck
    // streams, as many as the pool starts with on a machine of two cores.
    for (const std::string& address : migratable)
    {
        recorder->waitFor([&](const RecordedSignal& s) {
            return s.member == "MigrationProgress" && s.path == pathOf(address);
        });
    }

    // Another device is served meanwhile.
    EXPECT_EQ(errorOf([&] { device(nic)->Bind({}); }), "");
    EXPECT_EQ(device(nic)->Driver(), "vfio-pci");

    // And each cancel is answered while its load is stuck; the load then
    // fails as cancelled with the device walked back.
    for (const std::string& address : migratable)
    {
        EXPECT_EQ(errorOf([&] { device(address)->CancelMigration({}); }), "")
            << address;
    }
    for (std::thread& load : loads)
    {
        load.join();
    }
    for (size_t i = 0; i < migratable.size(); ++i)
    {
        EXPECT_EQ(failures[i].first, "org.vfiod1.Error.Cancelled")
            << failures[i].second;
        EXPECT_EQ(device(migratable[i])->MigrationState(), "RUNNING");
    }
}

TEST_F(LimitsTest, IdleStreamTimesOutAndWalksBack)
{
    start("[timeouts]\nmigration_idle_ms = 200\n");
    SilentPipe pipe;
    int reader = std::exchange(pipe.reader, -1);
    // The write end stays open: no end of stream, just no data.
    auto [name, message] = failureOf([&] {
        device(migratable[0])
            ->LoadState(sdbus::UnixFd(reader, sdbus::adopt_fd), {});
    });
    EXPECT_EQ(name, "org.vfiod1.Error.TimedOut") << message;
    EXPECT_NE(message.find("moved no migration data for 200 ms"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("back in RUNNING"), std::string::npos) << message;
    EXPECT_EQ(device(migratable[0])->MigrationState(), "RUNNING");
    // And it still migrates.
    int sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(sink, 0);
    EXPECT_EQ(errorOf([&] {
                  device(migratable[0])
                      ->SaveState(sdbus::UnixFd(sink, sdbus::adopt_fd), {});
              }),
              "");
    EXPECT_EQ(device(migratable[0])->MigrationState(), "STOP");
}

/** @brief One flooding client, run as nobody. */
struct Flooder
{
    std::string log;
    std::unique_ptr<ChildProcess> process;

    std::string output() const
    {
        return readFile(log);
    }
};

/** @brief How many lines of @p flooder's output start with @p prefix. */
size_t count(const Flooder& flooder, const std::string& prefix)
{
    size_t n = 0;
    std::string text = flooder.output();
    for (size_t at = 0; at < text.size();)
    {
        size_t end = text.find('\n', at);
        end = end == std::string::npos ? text.size() : end;
        if (text.compare(at, prefix.size(), prefix) == 0)
        {
            ++n;
        }
        at = end + 1;
    }
    return n;
}

TEST_F(LimitsTest, FloodFromAnotherUserLeavesRootAnswered)
{
    if (!canSwitchUser())
    {
        GTEST_SKIP() << "needs root to run the flood as nobody";
    }
    // polkit keeps nobody's calls waiting: the flood stays in flight.
    bus->startPolkit("* = hold\n");
    start("[limits]\nmax_calls_per_caller = 16\n");
    // A descriptor limit of 512 for vfiod (lowered from outside: the test
    // may not raise its own again): the flood's descriptors would exhaust
    // it if vfiod kept every one it is sent.
    rlimit low{512, 512};
    ASSERT_EQ(
        ::prlimit(bus->vfiodProcess()->pid(), RLIMIT_NOFILE, &low, nullptr), 0);

    // 4 connections × 40 Binds, then 10 connections × 40 SaveStates with a
    // pipe each (800 descriptors in vfiod if it kept them all). Past 16
    // calls of a connection vfiod answers LimitsExceeded at once; the bus
    // may refuse some of the SaveStates itself (LimitsExceeded of
    // org.freedesktop.DBus: vfiod's incoming queue holds 64 descriptors at
    // most). Either way at least 24 of each connection's calls are
    // answered at once, and the rest are in flight.
    std::vector<Flooder> flood;
    auto startFlood = [&](const std::string& method, int connections) {
        for (int i = 0; i < connections; ++i)
        {
            Flooder flooder;
            flooder.log = bus->dir() / ("flood" + std::to_string(flood.size()));
            flooder.process = std::make_unique<ChildProcess>(
                asNobody(
                    bus->clientCommand({"flood", pathOf(nic), method, "40"})),
                flooder.log);
            flood.push_back(std::move(flooder));
        }
        for (Flooder& flooder : flood)
        {
            waitFor([&] { return count(flooder, "reply ") >= 24; },
                    [&] { return !flooder.process->running(); });
        }
    };
    startFlood("Bind", 4);
    // Bind carries no descriptor: the refusals are vfiod's own, and the
    // other 16 calls of each connection are in flight.
    for (size_t i = 0; i < 4; ++i)
    {
        EXPECT_EQ(count(flood[i], std::string("reply ") + limitsExceeded), 24)
            << flood[i].output();
    }
    startFlood("SaveState", 10);
    ASSERT_TRUE(bus->waitFor([&] { return !bus->polkitLog().empty(); }));

    // Root's call on the same device is answered while the flood waits.
    EXPECT_EQ(errorOf([&] { device(nic)->Bind({}); }), "");
    EXPECT_EQ(device(nic)->Driver(), "vfio-pci");
    for (size_t i = 0; i < 4; ++i)
    {
        EXPECT_TRUE(flood[i].process->running()) << flood[i].output();
    }
    for (Flooder& flooder : flood)
    {
        EXPECT_EQ(flooder.output().find("reply ok"), std::string::npos)
            << flooder.output();
    }
    ASSERT_NE(bus->vfiodProcess(), nullptr);
    EXPECT_TRUE(bus->vfiodProcess()->running()) << bus->vfiodLog();

    // Without polkit the held calls are refused, and the flood ends.
    bus->stopPolkit();
    for (Flooder& flooder : flood)
    {
        EXPECT_EQ(flooder.process->wait(), 0) << flooder.output();
        EXPECT_EQ(flooder.output().find("reply ok"), std::string::npos)
            << flooder.output();
    }
    EXPECT_TRUE(bus->vfiodProcess()->running()) << bus->vfiodLog();
}

} // namespace
} // namespace vfiod::test
