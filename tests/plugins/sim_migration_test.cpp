// Migration of simulated devices through the sim plugin and the engine:
// walks, refusals that never reach the device, save/load round trips
// checked byte for byte, pre-copy, cancellation, bad streams, migrate.
#include "base/error.hpp"
#include "migration/migration_engine.hpp"
#include "pci/pci_device.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin_test_util.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include <gtest/gtest.h>

namespace vfiod::migration
{
namespace
{

using namespace std::chrono_literals;
using plugintest::LogCapture;
using plugintest::requiredEnv;

const std::string onlyStopCopy = "0000:0b:00.0"; // {STOP_COPY}, contents 1
const std::string withP2P = "0000:0b:00.1";      // {STOP_COPY,P2P}, 2
const std::string withPreCopy = "0000:0b:00.2";  // {STOP_COPY,PRE_COPY}, 3
const std::string everything = "0000:0b:00.3";   // all three, contents 4

class SimMigrationTest : public ::testing::Test
{
  protected:
    simtest::TempDir dir;
    SimHost sim{requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml",
                dir.path() + "/state"};
    LogCapture log;
    PluginHost plugins{sim, [this] {
                           PluginHostConfig config;
                           config.directory =
                               requiredEnv("VFIOD_TEST_SIM_PLUGINS");
                           config.log = log.sink();
                           return config;
                       }()};

    PluginDevice device(const std::string& address)
    {
        return plugins.deviceFor(
            readPciDevice(sim, PciAddress::parse(address)));
    }

    std::string attr(const std::string& address, const std::string& name)
    {
        std::string text =
            sim.read("bus/pci/devices/" + address + "/" + name).value_or("");
        return text.substr(0, text.find('\n'));
    }

    std::string file(const std::string& name)
    {
        return dir.path() + "/" + name;
    }

    /** @brief Saves @p address into a new file, returns its bytes. */
    std::string saveToFile(MigrationEngine& engine, const std::string& name,
                           const StreamOptions& options = {})
    {
        UniqueFd sink(::open(file(name).c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        engine.save(sink.get(), options);
        return vfiod::test::readFile(file(name));
    }

    void loadFromFile(MigrationEngine& engine, const std::string& name,
                      const StreamOptions& options = {})
    {
        UniqueFd source(::open(file(name).c_str(), O_RDONLY | O_CLOEXEC));
        engine.load(source.get(), options);
    }
};

std::vector<std::string> names(const std::vector<State>& states)
{
    std::vector<std::string> out;
    for (State s : states)
    {
        out.emplace_back(stateName(s));
    }
    return out;
}

TEST_F(SimMigrationTest, SimPluginClaimsMigratableDevicesWithTheirFlags)
{
    std::map<std::string, Flags> expected = {
        {onlyStopCopy, StopCopyFlag},
        {withP2P, StopCopyFlag | P2PFlag},
        {withPreCopy, StopCopyFlag | PreCopyFlag},
        {everything, StopCopyFlag | P2PFlag | PreCopyFlag},
    };
    for (const auto& [address, flags] : expected)
    {
        PluginDevice d = device(address);
        EXPECT_EQ(d.pluginName(), "sim");
        MigrationEngine engine(d);
        EXPECT_EQ(engine.flags(), flags) << address;
        EXPECT_EQ(engine.state(), State::Running);
    }
    // A device without migration is not the sim plugin's.
    EXPECT_EQ(plugins.chooseName(
                  readPciDevice(sim, PciAddress::parse("0000:02:00.0"))),
              "");
}

TEST_F(SimMigrationTest, SetStateWalksOneArcAtATime)
{
    PluginDevice d = device(withP2P);
    MigrationEngine engine(d);
    EXPECT_EQ(names(engine.setState(State::StopCopy)),
              (std::vector<std::string>{"RUNNING_P2P", "STOP", "STOP_COPY"}));
    EXPECT_EQ(attr(withP2P, "sim_migration_state"), "STOP_COPY");
    EXPECT_EQ(names(engine.setState(State::Running)),
              (std::vector<std::string>{"STOP", "RUNNING_P2P", "RUNNING"}));

    PluginDevice plain = device(onlyStopCopy);
    MigrationEngine simple(plain);
    EXPECT_EQ(names(simple.setState(State::Resuming)),
              (std::vector<std::string>{"STOP", "RESUMING"}));
    EXPECT_TRUE(simple.setState(State::Resuming).empty());
}

TEST_F(SimMigrationTest, RefusedRequestsNeverReachTheDevice)
{
    PluginDevice d = device(everything);
    MigrationEngine engine(d);
    engine.setState(State::StopCopy);
    for (State target : {State::PreCopy, State::PreCopyP2P, State::Error})
    {
        try
        {
            engine.setState(target);
            FAIL() << stateName(target);
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::InvalidArgument);
        }
        EXPECT_EQ(attr(everything, "sim_migration_state"), "STOP_COPY");
    }
    PluginDevice plain = device(onlyStopCopy);
    MigrationEngine simple(plain);
    try
    {
        simple.setState(State::RunningP2P); // not in its flags
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
    }
}

TEST_F(SimMigrationTest, SimDriverRefusesAnythingButOneArc)
{
    std::string state =
        "bus/pci/devices/" + everything + "/sim_migration_state";
    auto refused = [&](const std::string& value) {
        try
        {
            sim.write(state, value);
            return false;
        }
        catch (const std::system_error& e)
        {
            return e.code().value() == EINVAL;
        }
    };
    EXPECT_TRUE(refused("STOP_COPY")); // RUNNING -> STOP_COPY: a walk
    EXPECT_TRUE(refused("ERROR"));
    EXPECT_TRUE(refused("BOGUS"));
    sim.write(state, "RUNNING_P2P");
    sim.write(state, "STOP");
    sim.write(state, "STOP_COPY");
    EXPECT_TRUE(refused("PRE_COPY")); // the blocked arc
    EXPECT_EQ(attr(everything, "sim_migration_state"), "STOP_COPY");
}

TEST_F(SimMigrationTest, SaveLoadRoundTripByteForByte)
{
    PluginDevice source = device(onlyStopCopy);
    PluginDevice target = device(withP2P);
    MigrationEngine from(source);
    MigrationEngine to(target);

    std::string saved = saveToFile(from, "saved");
    EXPECT_EQ(std::to_string(saved.size()),
              attr(onlyStopCopy, "sim_migration_data_size"));
    EXPECT_EQ(saved.substr(0, 8), "VFIODSIM");
    EXPECT_EQ(from.state(), State::Stop);

    loadFromFile(to, "saved");
    EXPECT_EQ(to.state(), State::Running);
    EXPECT_EQ(attr(withP2P, "sim_migration_contents"), "1");

    // The target now produces exactly the stream it was given.
    std::string again = saveToFile(to, "again");
    EXPECT_EQ(again, saved);
    // And the source, back to RUNNING, the same stream as before.
    from.setState(State::Running);
    EXPECT_EQ(saveToFile(from, "third"), saved);
}

TEST_F(SimMigrationTest, PreCopyRoundsThenStopCopyInOneStream)
{
    PluginDevice d = device(everything);
    MigrationEngine engine(d);
    std::vector<Progress> seen;
    StreamOptions options;
    options.progress = [&](const Progress& p) { seen.push_back(p); };
    std::string saved = saveToFile(engine, "precopy", options);

    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().phase, "pre-copy");
    EXPECT_EQ(seen.back().phase, "stop-copy");
    EXPECT_EQ(seen.back().bytes, saved.size());
    EXPECT_EQ(std::to_string(saved.size()),
              attr(everything, "sim_migration_data_size"));

    // Same identity and contents without pre-copy: the same bytes.
    sim.write("bus/pci/devices/" + onlyStopCopy + "/sim_migration_contents",
              "4");
    PluginDevice plain = device(onlyStopCopy);
    MigrationEngine simple(plain);
    EXPECT_EQ(saveToFile(simple, "plain"), saved);
}

TEST_F(SimMigrationTest, CancelInMidStreamReturnsToRunning)
{
    sim.hotAdd("address = \"0000:0b:01.0\"\nvendor = 0x1dd8\n"
               "device = 0x1003\nclass = 0x020000\niommu_group = 40\n"
               "reset_methods = [\"flr\"]\n"
               "migration_flags = [\"stop_copy\", \"p2p\"]\n"
               "migration_state_size = 8388608\n");
    PluginDevice d = device("0000:0b:01.0");
    MigrationEngine engine(d);
    CancelToken cancel;
    StreamOptions options;
    options.cancel = &cancel;
    uint64_t lastBytes = 0;
    options.progress = [&](const Progress& p) {
        lastBytes = p.bytes;
        if (p.bytes > 0)
        {
            cancel.cancel(); // after the first chunk
        }
    };
    try
    {
        saveToFile(engine, "cancelled", options);
        FAIL();
    }
    catch (const MigrationFailure& e)
    {
        EXPECT_TRUE(e.cancelled());
        EXPECT_EQ(e.leftIn(), State::Running);
    }
    EXPECT_GT(lastBytes, 0U);
    EXPECT_LT(lastBytes, 8388608U);
    EXPECT_EQ(attr("0000:0b:01.0", "sim_migration_state"), "RUNNING");
}

TEST_F(SimMigrationTest, BadHeaderLeavesResumingThenResetRecovers)
{
    PluginDevice d = device(withP2P);
    MigrationEngine engine(d);
    dir.write("garbage", std::string(100, 'x'));
    std::string resetsBefore = attr(withP2P, "sim_reset_count");
    try
    {
        loadFromFile(engine, "garbage");
        FAIL();
    }
    catch (const MigrationFailure& e)
    {
        EXPECT_FALSE(e.cancelled());
        EXPECT_EQ(e.leftIn(), State::Running);
        EXPECT_NE(std::string(e.what()).find("EINVAL"), std::string::npos)
            << e.what();
    }
    // RESUMING -> STOP failed again on the way back: a reset was needed.
    EXPECT_EQ(attr(withP2P, "sim_migration_state"), "RUNNING");
    EXPECT_NE(attr(withP2P, "sim_reset_count"), resetsBefore);
    EXPECT_EQ(attr(withP2P, "sim_migration_contents"), "2");
}

TEST_F(SimMigrationTest, CorruptBodyPutsDeviceInErrorThenReset)
{
    PluginDevice source = device(onlyStopCopy);
    MigrationEngine from(source);
    std::string saved = saveToFile(from, "saved");
    saved[saved.size() / 2] ^= 0x55;
    dir.write("corrupt", saved);

    PluginDevice target = device(withP2P);
    MigrationEngine to(target);
    try
    {
        loadFromFile(to, "corrupt");
        FAIL();
    }
    catch (const MigrationFailure& e)
    {
        EXPECT_EQ(e.leftIn(), State::Running);
        EXPECT_NE(std::string(e.what()).find("EFAULT"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("ERROR"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(attr(withP2P, "sim_migration_contents"), "2");
}

TEST_F(SimMigrationTest, MigrateMovesStateToAnotherDevice)
{
    PluginDevice source = device(everything);
    PluginDevice target = device(withPreCopy);
    MigrationEngine from(source);
    MigrationEngine to(target);
    uint64_t last = 0;
    StreamOptions options;
    options.progress = [&](const Progress& p) { last = p.bytes; };
    migrate(from, to, options);
    EXPECT_EQ(from.state(), State::Stop);
    EXPECT_EQ(to.state(), State::Running);
    EXPECT_EQ(attr(withPreCopy, "sim_migration_contents"), "4");
    EXPECT_EQ(std::to_string(last),
              attr(everything, "sim_migration_data_size"));
}

TEST_F(SimMigrationTest, MigrateToAnIncompatibleDeviceRestoresBoth)
{
    sim.hotAdd("address = \"0000:0b:02.0\"\nvendor = 0x1dd8\n"
               "device = 0x1004\nclass = 0x020000\niommu_group = 41\n"
               "reset_methods = [\"flr\"]\n"
               "migration_flags = [\"stop_copy\"]\n");
    PluginDevice source = device(onlyStopCopy);
    PluginDevice target = device("0000:0b:02.0");
    MigrationEngine from(source);
    MigrationEngine to(target);
    EXPECT_THROW(migrate(from, to), Error);
    EXPECT_EQ(attr(onlyStopCopy, "sim_migration_state"), "RUNNING");
    EXPECT_EQ(attr("0000:0b:02.0", "sim_migration_state"), "RUNNING");
}

TEST_F(SimMigrationTest, HostFileRefusesFlagSetsTheVfioCoreRefuses)
{
    const std::string base = "address = \"0000:0b:03.0\"\nvendor = 0x1dd8\n"
                             "device = 0x1003\nclass = 0x020000\n";
    for (const std::string& bad :
         {base + "migration_flags = [\"p2p\"]\n",
          base + "migration_flags = [\"stop_copy\", \"warp\"]\n",
          base + "migration_state_size = 4096\n"})
    {
        try
        {
            sim.hotAdd(bad);
            FAIL() << bad;
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
        }
    }
}

TEST_F(SimMigrationTest, StateIsSharedAcrossHosts)
{
    PluginDevice d = device(withP2P);
    MigrationEngine engine(d);
    engine.setState(State::Stop);
    SimHost other("", dir.path() + "/state"); // another process's view
    EXPECT_EQ(other.read("bus/pci/devices/" + withP2P + "/sim_migration_state"),
              "STOP\n");
}

} // namespace
} // namespace vfiod::migration
