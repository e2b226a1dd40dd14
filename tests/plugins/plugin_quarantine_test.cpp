// The plugin call markers and the quarantine they feed: the files in the
// state directory, their refusals, and the plugin host that skips a
// quarantined library. The crash itself is in tests/dbus/quarantine_test.
#include "base/error.hpp"
#include "plugin/plugin_call_markers.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin/plugin_quarantine.hpp"
#include "plugin_test_util.hpp"
#include "sim/sim_host.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

using plugintest::LogCapture;
using test::readFile;
using test::requiredEnv;
using test::writeFile;

const PluginCallRecord probeCall{"crashy.so", "crashy", "probe",
                                 "0000:04:00.0"};

std::optional<Errc> errcOf(const std::function<void()>& call)
{
    try
    {
        call();
    }
    catch (const Error& e)
    {
        return e.code();
    }
    return std::nullopt;
}

/** What a run that died inside a plugin call leaves behind: the crash
 *  handler renamed the marker of the call whose thread crashed. */
void leaveMarker(const std::string& state, const PluginCallRecord& call,
                 bool crashed = true, const std::string& name = "99999-1")
{
    std::filesystem::create_directories(state + "/plugin-calls");
    writeFile(state + "/plugin-calls/" + name +
                  (crashed ? std::string(crashedSuffix) : ""),
              formatPluginCallRecord(call));
}

PluginCallRecord crashedIn(PluginCallRecord call)
{
    call.crashed = true;
    return call;
}

size_t entriesIn(const std::string& dir)
{
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator(dir))
    {
        ++count;
    }
    return count;
}

TEST(PluginCallRecord, RoundTripsAndRefusesWhatIsNotOne)
{
    EXPECT_EQ(parsePluginCallRecord(formatPluginCallRecord(probeCall)),
              probeCall);
    // A newline in a file name cannot end the line early.
    PluginCallRecord odd{"a\nb.so", "", "load", ""};
    PluginCallRecord read = parsePluginCallRecord(formatPluginCallRecord(odd));
    EXPECT_EQ(read.file, "a\\nb.so");
    for (const char* text :
         {"", "garbage\n", "vfiod plugin call\nfile=a.so\nop=probe\n",
          "vfiod plugin call\nop=probe\nend\n",
          "vfiod plugin call\nfile=a.so\nop=probe\nbogus=1\nend\n"})
    {
        EXPECT_EQ(errcOf([&] { parsePluginCallRecord(text); }),
                  Errc::InvalidArgument)
            << text;
    }
}

TEST(QuarantineFile, RoundTripsAndRefusesCorruptText)
{
    std::vector<QuarantinedPlugin> list{
        {"crashy.so", "crashy", "vfiod died during its probe of x", 2, false},
        {"b.so", "", "tab\there", 3, false}};
    std::vector<QuarantinedPlugin> read =
        parseQuarantine(formatQuarantine(list));
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0], list[0]);
    EXPECT_EQ(read[1].reason, "tab\\there");
    const std::string head = "vfiod plugin quarantine\n";
    for (const std::string& text :
         {std::string("nonsense\nend\n"), head,
          head + "plugin\ta.so\ta\t0\twhy\nend\n",
          head + "plugin\ta.so\ta\t4\twhy\nend\n",
          head + "plugin\ta.so\ta\tx\twhy\nend\n",
          head + "plugin\t../a.so\ta\t1\twhy\nend\n",
          head + "plugin\t\ta\t1\twhy\nend\n",
          head + "plugin\ta.so\ta\t1\nend\n", head + "other\nend\n"})
    {
        EXPECT_EQ(errcOf([&] { parseQuarantine(text); }), Errc::InvalidArgument)
            << text;
    }
}

TEST(QuarantineFromMarkers, NamesTheCallsAndSaysWhenItCannotTell)
{
    auto one = quarantineFromMarkers(
        {{"1-1.crashed", crashedIn(probeCall)},
         {"1-2", {"other.so", "other", "reset", "0000:05:00.0"}}});
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].file, "crashy.so");
    EXPECT_EQ(one[0].plugin, "crashy");
    EXPECT_EQ(one[0].reason, "vfiod died during its probe of 0000:04:00.0");
    EXPECT_EQ(one[0].cleanRunsLeft, quarantineCleanRuns);

    // Two threads crashing at once: rare, but neither is forgiven.
    auto two = quarantineFromMarkers(
        {{"1-1.crashed", crashedIn(probeCall)},
         {"1-3.crashed", crashedIn({"other.so", "", "load", ""})}});
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].reason,
              "vfiod died during its probe of 0000:04:00.0 (2 plugins "
              "crashed at once; each is quarantined)");
    EXPECT_EQ(two[1].file, "other.so");
    EXPECT_EQ(two[1].reason.rfind("vfiod died during its load", 0), 0u);
}

class MarkersTest : public ::testing::Test
{
  protected:
    test::TempDir dir;
    std::string state = dir / "state";
    LogCapture log;
};

TEST_F(MarkersTest, AMarkLastsExactlyAsLongAsTheCall)
{
    auto markers = PluginCallMarkers::open(state, log.sink());
    EXPECT_TRUE(markers->owner());
    {
        PluginCallMarkers::Mark mark = markers->mark(probeCall);
        EXPECT_EQ(markers->inFlight(), 1u);
        auto listed = markers->list();
        ASSERT_EQ(listed.size(), 1u);
        EXPECT_EQ(listed.begin()->second, probeCall);
        EXPECT_EQ(
            listed.begin()->first.rfind(std::to_string(::getpid()) + "-", 0),
            0u);
    }
    EXPECT_EQ(markers->inFlight(), 0u);
    EXPECT_TRUE(markers->list().empty());
}

TEST_F(MarkersTest, OverlappingCallsOnManyThreadsEachHaveTheirOwn)
{
    auto markers = PluginCallMarkers::open(state, log.sink());
    constexpr int threads = 8;
    constexpr int calls = 200;
    std::atomic<size_t> most{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
    {
        workers.emplace_back([&] {
            for (int i = 0; i < calls; ++i)
            {
                PluginCallMarkers::Mark mark = markers->mark(probeCall);
                size_t now = markers->inFlight();
                size_t seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now))
                {}
            }
        });
    }
    for (std::thread& worker : workers)
    {
        worker.join();
    }
    EXPECT_EQ(markers->inFlight(), 0u);
    EXPECT_EQ(entriesIn(markers->directory()), 0u);
    EXPECT_TRUE(log.lines().empty()); // no mark failed
    EXPECT_GE(most.load(), 1u);
}

TEST_F(MarkersTest, CostOfAMark)
{
    // Printed, not asserted (tests assert no time bound): what every
    // plugin call pays for its marker on this machine's state directory.
    auto markers = PluginCallMarkers::open(state, log.sink());
    constexpr int rounds = 2000;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i)
    {
        PluginCallMarkers::Mark mark = markers->mark(probeCall);
    }
    auto spent = std::chrono::steady_clock::now() - start;
    std::cout << "one plugin call marker (create, write, unlink): "
              << std::chrono::duration<double, std::micro>(spent).count() /
                     rounds
              << " us\n";
    EXPECT_EQ(entriesIn(markers->directory()), 0u);
}

TEST_F(MarkersTest, ACrashOnTheCallsThreadTagsItsMarker)
{
    // In a child, which dies as a crashing plugin would make vfiod die.
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0)
    {
        auto markers = PluginCallMarkers::open(state, nullptr);
        PluginCallMarkers::Mark other =
            markers->mark({"b.so", "b", "reset", "x"});
        std::thread([&] {
            PluginCallMarkers::Mark mark = markers->mark(probeCall);
            std::abort();
        }).join();
        ::_exit(0); // not reached
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGABRT); // died as it would have

    LogCapture after;
    auto markers = PluginCallMarkers::open(state, after.sink());
    auto left = markers->list();
    ASSERT_EQ(left.size(), 2u);
    size_t crashed = 0;
    for (const auto& [name, call] : left)
    {
        EXPECT_EQ(call.crashed, name.ends_with(".crashed")) << name;
        EXPECT_EQ(call.crashed, call.file == "crashy.so") << name;
        crashed += call.crashed ? 1 : 0;
    }
    EXPECT_EQ(crashed, 1u);
}

TEST_F(MarkersTest, ASymlinkedStateOrMarkerDirectoryIsRefused)
{
    std::filesystem::create_directory(dir / "elsewhere");
    std::filesystem::create_directory_symlink(dir / "elsewhere", state);
    EXPECT_EQ(errcOf([&] { PluginCallMarkers::open(state, log.sink()); }),
              Errc::InvalidArgument);
    EXPECT_EQ(errcOf([&] { PluginQuarantine q(state, log.sink()); }),
              Errc::InvalidArgument);

    std::string real = dir / "real";
    std::filesystem::create_directory(real);
    std::filesystem::create_directory_symlink(dir / "elsewhere",
                                              real + "/plugin-calls");
    EXPECT_EQ(errcOf([&] { PluginCallMarkers::open(real, log.sink()); }),
              Errc::InvalidArgument);
    EXPECT_EQ(entriesIn(dir / "elsewhere"), 0u); // nothing written there
}

TEST_F(MarkersTest, ASecondProcessOnTheDirectoryIsNotTheOwner)
{
    auto first = PluginCallMarkers::open(state, log.sink());
    auto second = PluginCallMarkers::open(state, log.sink());
    EXPECT_TRUE(first->owner());
    EXPECT_FALSE(second->owner());
    EXPECT_EQ(log.matching("held by another process").size(), 1u);

    // The live markers of the first are no crash to the second.
    PluginCallMarkers::Mark mark = first->mark(probeCall);
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_TRUE(quarantine.entries().empty());
    EXPECT_EQ(first->list().size(), 1u);
}

class QuarantineTest : public MarkersTest
{
  protected:
    void dieInProbe()
    {
        leaveMarker(state, probeCall);
    }

    std::string quarantineFile() const
    {
        return state + "/plugin-quarantine";
    }
};

TEST_F(QuarantineTest, MarkersLeftBecomeAQuarantineAndGo)
{
    dieInProbe();
    PluginQuarantine quarantine(state, log.sink());
    ASSERT_EQ(quarantine.entries().size(), 1u);
    EXPECT_TRUE(quarantine.skips("crashy.so"));
    EXPECT_FALSE(quarantine.skips("other.so"));
    EXPECT_EQ(entriesIn(state + "/plugin-calls"), 0u);
    EXPECT_EQ(log.matching("plugin crashy (crashy.so) quarantined: vfiod "
                           "died during its probe of 0000:04:00.0")
                  .size(),
              1u);
    EXPECT_EQ(parseQuarantine(readFile(quarantineFile())),
              quarantine.entries());
    EXPECT_EQ(quarantineStatus(quarantine.entries()[0]),
              "quarantined: vfiod died during its probe of 0000:04:00.0; not "
              "loaded until 3 more runs of vfiod end cleanly, or a Reload");
}

TEST_F(QuarantineTest, CleanRunsCountDownAndLift)
{
    dieInProbe();
    for (unsigned left = quarantineCleanRuns; left > 0; --left)
    {
        PluginQuarantine quarantine(state, log.sink());
        ASSERT_EQ(quarantine.entries().size(), 1u);
        EXPECT_EQ(quarantine.entries()[0].cleanRunsLeft, left);
        quarantine.endRun();
    }
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_TRUE(quarantine.entries().empty());
    EXPECT_FALSE(quarantine.skips("crashy.so"));
}

TEST_F(QuarantineTest, ARunWithACallStillInFlightIsNotClean)
{
    dieInProbe();
    {
        PluginQuarantine quarantine(state, log.sink());
        // An op abandoned on its timeout, still in the plugin at the end.
        PluginCallMarkers::Mark mark =
            quarantine.markers()->mark({"other.so", "other", "reset", "x"});
        quarantine.endRun();
        EXPECT_EQ(quarantine.entries()[0].cleanRunsLeft, quarantineCleanRuns);
        // It did not crash vfiod: its marker is gone, no quarantine next.
        EXPECT_EQ(entriesIn(state + "/plugin-calls"), 0u);
    }
    PluginQuarantine quarantine(state, log.sink());
    ASSERT_EQ(quarantine.entries().size(), 1u);
    EXPECT_EQ(quarantine.entries()[0].file, "crashy.so");
}

TEST_F(QuarantineTest, ReloadLiftsFromTheNextStart)
{
    dieInProbe();
    {
        PluginQuarantine quarantine(state, log.sink());
        EXPECT_EQ(quarantine.lift(), std::vector<std::string>{"crashy.so"});
        EXPECT_TRUE(quarantine.lift().empty());     // once
        EXPECT_TRUE(quarantine.skips("crashy.so")); // not in this run
        ASSERT_EQ(quarantine.entries().size(), 1u);
        EXPECT_EQ(quarantineStatus(quarantine.entries()[0])
                      .rfind("quarantine lifted by Reload, loaded at the "
                             "next start: ",
                             0),
                  0u);
        quarantine.endRun();
    }
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_TRUE(quarantine.entries().empty());
}

TEST_F(QuarantineTest, ACorruptOrLinkedQuarantineFileIsLoggedAndReplaced)
{
    std::filesystem::create_directory(state);
    writeFile(quarantineFile(), "vfiod plugin quarantine\nplugin\tbroken\n");
    {
        PluginQuarantine quarantine(state, log.sink());
        EXPECT_TRUE(quarantine.entries().empty());
        EXPECT_EQ(log.matching("plugin-quarantine is ignored").size(), 1u);
    }
    // Left as it was until something is quarantined.
    EXPECT_EQ(readFile(quarantineFile()),
              "vfiod plugin quarantine\nplugin\tbroken\n");

    std::string target = dir / "target";
    writeFile(target, "precious\n");
    std::filesystem::remove(quarantineFile());
    std::filesystem::create_symlink(target, quarantineFile());
    dieInProbe();
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_EQ(log.matching("plugin-quarantine is ignored").size(), 2u);
    ASSERT_EQ(quarantine.entries().size(), 1u);
    // The link was replaced, never followed.
    EXPECT_EQ(readFile(target), "precious\n");
    EXPECT_FALSE(std::filesystem::is_symlink(quarantineFile()));
}

TEST_F(QuarantineTest, ACallThatWasOnlyRunningConvictsNobody)
{
    // vfiod SIGKILLed (a stop timeout, the OOM killer) during a probe.
    leaveMarker(state, probeCall, false);
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_TRUE(quarantine.entries().empty());
    EXPECT_EQ(log.matching("vfiod's previous run ended during plugin "
                           "crashy's probe of 0000:04:00.0 with no crash "
                           "in it")
                  .size(),
              1u);
    EXPECT_EQ(entriesIn(state + "/plugin-calls"), 0u);
    EXPECT_FALSE(std::filesystem::exists(quarantineFile()));
}

TEST_F(QuarantineTest, ADamagedMarkerIsRemovedAndSaidSo)
{
    std::filesystem::create_directories(state + "/plugin-calls");
    writeFile(state + "/plugin-calls/9-9", "not a marker\n");
    PluginQuarantine quarantine(state, log.sink());
    EXPECT_TRUE(quarantine.entries().empty());
    EXPECT_EQ(log.matching("9-9 is removed unread").size(), 1u);
    EXPECT_EQ(entriesIn(state + "/plugin-calls"), 0u);
}

PciDevice opsDevice(const std::string& address)
{
    PciDevice d;
    d.address = PciAddress::parse(address);
    d.vendorId = 0xabcd;
    d.deviceId = 1;
    d.classCode = 0x020000;
    return d;
}

class HostQuarantineTest : public QuarantineTest
{
  protected:
    test::TempDir simDir;
    SimHost sim{requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml",
                simDir.path() + "/state"};

    std::unique_ptr<PluginHost> load()
    {
        PluginHostConfig config;
        config.directory = requiredEnv("VFIOD_TEST_OPS_PLUGINS");
        config.log = log.sink();
        config.stateDir = state;
        return std::make_unique<PluginHost>(sim, config);
    }
};

TEST_F(HostQuarantineTest, CallsLeaveNoMarkerBehind)
{
    auto host = load();
    EXPECT_EQ(host->deviceFor(opsDevice("0000:0c:00.0")).pluginName(), "ops");
    EXPECT_EQ(entriesIn(state + "/plugin-calls"), 0u);
    EXPECT_TRUE(host->quarantined().empty());
}

TEST_F(HostQuarantineTest, AQuarantinedLibraryIsNotLoaded)
{
    leaveMarker(state, {"ops.so", "ops", "reset", "0000:0c:00.1"});
    auto host = load();
    EXPECT_TRUE(host->plugins().empty());
    std::vector<QuarantineInfo> quarantined = host->quarantined();
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_EQ(quarantined[0].name, "ops");
    EXPECT_EQ(quarantined[0].path,
              requiredEnv("VFIOD_TEST_OPS_PLUGINS") + "/ops.so");
    EXPECT_EQ(log.matching("ops.so is not loaded: it is in quarantine").size(),
              1u);
    // Its devices have no plugin: vfiod's generic operations.
    EXPECT_EQ(host->chooseName(opsDevice("0000:0c:00.0")), "");

    EXPECT_TRUE(host->liftQuarantine());
    host.reset();
    host = load();
    EXPECT_EQ(host->plugins().size(), 1u);
}

} // namespace
} // namespace vfiod
