// Plugins and migration through the bus: the real vfiod on conf/sim-host.toml
// with the built plugins, whose sim plugin drives the simulated host's
// migration driver (0000:0b:00.0-3, one per legal flag set).

#include "base/error.hpp"
#include "kernel/migration_fsm.hpp"
#include "vfiod_fixture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using migration::State;

/// {address, flags} of the sample host's migratable devices.
const std::vector<std::pair<std::string, migration::Flags>> migratable{
    {"0000:0b:00.0", migration::StopCopyFlag},
    {"0000:0b:00.1", migration::StopCopyFlag | migration::P2PFlag},
    {"0000:0b:00.2", migration::StopCopyFlag | migration::PreCopyFlag},
    {"0000:0b:00.3",
     migration::StopCopyFlag | migration::P2PFlag | migration::PreCopyFlag},
};

constexpr const char* invalidArgument = "org.vfiod1.Error.InvalidArgument";

class MigrationTest : public VfiodTest
{
  protected:
    void SetUp() override
    {
        VfiodTest::SetUp();
        bus->startVfiod(
            requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml",
            std::string(defaultConfig) + "[daemon]\nplugin_dir = \"" +
                requiredEnv("VFIOD_TEST_PLUGIN_DIR") + "\"\n");
        connection = bus->connect();
        manager = std::make_unique<ManagerProxy>(*connection);
    }

    /** @brief A file of the test's temporary directory, opened. */
    int openFile(const std::string& name, int flags)
    {
        int fd = ::open((bus->dir() / name).c_str(), flags | O_CLOEXEC, 0644);
        EXPECT_GE(fd, 0) << name;
        return fd;
    }

    void save(const std::string& address, const std::string& file)
    {
        int fd = openFile(file, O_WRONLY | O_CREAT | O_TRUNC);
        device(address)->SaveState(sdbus::UnixFd(fd, sdbus::adopt_fd), {});
    }

    void load(const std::string& address, const std::string& file)
    {
        int fd = openFile(file, O_RDONLY);
        device(address)->LoadState(sdbus::UnixFd(fd, sdbus::adopt_fd), {});
    }

    /** @brief The simulated device's "memory" the stream carries. */
    std::string contents(const std::string& address)
    {
        auto result = bus->simTool(
            {"read", "bus/pci/devices/" + address + "/sim_migration_contents"});
        if (!result)
        {
            return "";
        }
        std::string text = result->output;
        text.erase(text.find_last_not_of(" \n") + 1);
        return text;
    }
};

std::vector<std::string> names(const std::vector<State>& states)
{
    std::vector<std::string> out;
    for (State state : states)
    {
        out.emplace_back(migration::stateName(state));
    }
    return out;
}

TEST_F(MigrationTest, PluginsPropertyListsTheBuiltPlugins)
{
    std::vector<std::string> loaded;
    for (const auto& plugin : manager->Plugins())
    {
        loaded.push_back(plugin.get<0>());
        EXPECT_EQ(plugin.get<2>(), 1u) << plugin.get<0>();
        EXPECT_NE(plugin.get<1>().find(plugin.get<0>() + ".so"),
                  std::string::npos)
            << plugin.get<1>();
    }
    EXPECT_NE(std::find(loaded.begin(), loaded.end(), "vfio-pci"),
              loaded.end());
    EXPECT_NE(std::find(loaded.begin(), loaded.end(), "sim"), loaded.end());
}

TEST_F(MigrationTest, DevicesShowTheirPluginAndMigrationProperties)
{
    for (const auto& [address, flags] : migratable)
    {
        auto dev = device(address);
        EXPECT_EQ(dev->Plugin(), "sim") << address;
        std::string joined;
        for (const std::string& flag : dev->MigrationFlags())
        {
            joined += (joined.empty() ? "" : "|") + flag;
        }
        EXPECT_EQ(joined, migration::formatFlags(flags)) << address;
        EXPECT_EQ(dev->MigrationState(), "RUNNING") << address;
    }
    // Not migratable: the generic plugin, no migration properties.
    auto nic = device("0000:03:00.0");
    EXPECT_EQ(nic->Plugin(), "vfio-pci");
    EXPECT_TRUE(nic->MigrationFlags().empty());
    EXPECT_EQ(nic->MigrationState(), "");
}

TEST_F(MigrationTest, SetMigrationStateWalksAsTheKernel)
{
    const std::vector<State> targets{
        State::Stop,       State::StopCopy, State::PreCopy, State::RunningP2P,
        State::PreCopyP2P, State::StopCopy, State::Stop,    State::Running,
        State::PreCopy,    State::StopCopy, State::Running};
    for (const auto& [address, flags] : migratable)
    {
        auto dev = device(address);
        auto recorder = recordSignals();
        State current = State::Running;
        for (State target : targets)
        {
            std::vector<State> expected;
            bool refused = false;
            try
            {
                expected = migration::walk(current, target, flags);
            }
            catch (const vfiod::Error&)
            {
                refused = true;
            }
            std::string what =
                address + ": " + std::string(migration::stateName(current)) +
                " -> " + std::string(migration::stateName(target));
            if (refused)
            {
                EXPECT_EQ(errorOf([&] {
                              dev->SetMigrationState(
                                  std::string(migration::stateName(target)),
                                  {});
                          }),
                          invalidArgument)
                    << what;
            }
            else
            {
                EXPECT_EQ(dev->SetMigrationState(
                              std::string(migration::stateName(target)), {}),
                          names(expected))
                    << what;
                current = target;
            }
            EXPECT_EQ(dev->MigrationState(), migration::stateName(current))
                << what;
        }
        recorder->waitFor(propertyChanged(pathOf(address), "MigrationState"));
    }
}

TEST_F(MigrationTest, StopCopyToPreCopyIsRefusedBeforeTheKernel)
{
    auto dev = device("0000:0b:00.2");
    EXPECT_EQ(dev->SetMigrationState("STOP_COPY", {}),
              (std::vector<std::string>{"STOP", "STOP_COPY"}));
    auto [name, message] =
        failureOf([&] { dev->SetMigrationState("PRE_COPY", {}); });
    EXPECT_EQ(name, invalidArgument) << message;
    EXPECT_EQ(dev->MigrationState(), "STOP_COPY");
    auto state = bus->simTool(
        {"read", "bus/pci/devices/0000:0b:00.2/sim_migration_state"});
    if (state)
    {
        EXPECT_EQ(state->output.substr(0, 9), "STOP_COPY");
    }
    EXPECT_EQ(errorOf([&] { dev->SetMigrationState("ERROR", {}); }),
              invalidArgument);
    EXPECT_EQ(errorOf([&] { dev->SetMigrationState("stop", {}); }),
              invalidArgument);
    dev->SetMigrationState("RUNNING", {});
    EXPECT_EQ(dev->MigrationState(), "RUNNING");
    // A device without migration.
    EXPECT_EQ(
        errorOf([&] { device("0000:03:00.0")->SetMigrationState("STOP", {}); }),
        "org.vfiod1.Error.NotSupported");
}

TEST_F(MigrationTest, SaveThenLoadIntoAnotherDeviceByteForByte)
{
    auto recorder = recordSignals();
    save("0000:0b:00.0", "state.bin");
    EXPECT_EQ(device("0000:0b:00.0")->MigrationState(), "STOP");
    std::string saved = readFile(bus->dir() / "state.bin");
    ASSERT_GT(saved.size(), 65536u);
    recorder->waitFor([](const RecordedSignal& s) {
        return s.member == "MigrationProgress";
    });

    load("0000:0b:00.1", "state.bin"); // the sim checks it on resume
    EXPECT_EQ(device("0000:0b:00.1")->MigrationState(), "RUNNING");
    EXPECT_EQ(contents("0000:0b:00.1"), contents("0000:0b:00.0"));

    // What the target saves now is what it was given.
    save("0000:0b:00.1", "again.bin");
    EXPECT_EQ(readFile(bus->dir() / "again.bin"), saved);

    // Pre-copy devices stream the same way, through a pipe.
    int ends[2];
    ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
    std::string piped;
    std::thread reader([&] {
        char buffer[65536];
        ssize_t n;
        while ((n = ::read(ends[0], buffer, sizeof buffer)) > 0)
        {
            piped.append(buffer, static_cast<size_t>(n));
        }
    });
    device("0000:0b:00.3")
        ->SaveState(sdbus::UnixFd(ends[1], sdbus::adopt_fd), {});
    reader.join();
    ::close(ends[0]);
    EXPECT_GT(piped.size(), 65536u);
}

TEST_F(MigrationTest, MigrateMovesTheState)
{
    std::string source = contents("0000:0b:00.2");
    device("0000:0b:00.2")
        ->Migrate(sdbus::ObjectPath(pathOf("0000:0b:00.3")), {});
    EXPECT_EQ(device("0000:0b:00.2")->MigrationState(), "STOP");
    EXPECT_EQ(device("0000:0b:00.3")->MigrationState(), "RUNNING");
    EXPECT_EQ(contents("0000:0b:00.3"), source);

    EXPECT_EQ(errorOf([&] {
                  device("0000:0b:00.2")
                      ->Migrate(sdbus::ObjectPath(pathOf("0000:0b:00.2")), {});
              }),
              invalidArgument);
    EXPECT_EQ(errorOf([&] {
                  device("0000:0b:00.2")
                      ->Migrate(sdbus::ObjectPath("/org/vfiod1/nothing"), {});
              }),
              "org.vfiod1.Error.NotFound");
}

TEST_F(MigrationTest, CancelInMidStream)
{
    // 8 MiB of state, far more than a pipe holds: the save is still running
    // when the cancel comes (see the reader), which does not wait behind it.
    constexpr size_t stateSize = size_t{8} << 20;
    auto added = bus->simTool(
        {"add", "address = \"0000:0c:00.0\"\nvendor = 0x1dd8\n"
                "device = 0x1003\nclass = 0x020000\niommu_group = 40\n"
                "migration_flags = [\"stop_copy\"]\n"
                "migration_state_size = " +
                    std::to_string(stateSize) + "\n"});
    if (!added)
    {
        GTEST_SKIP() << "tools/vfiod-sim is not built";
    }
    ASSERT_EQ(added->status, 0) << added->output;
    ASSERT_TRUE(bus->waitFor([&] {
        return errorOf([&] { manager->GetDevice("0000:0c:00.0"); }).empty();
    }));
    EXPECT_EQ(device("0000:0c:00.0")->Plugin(), "sim");

    int ends[2];
    ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
    std::atomic<size_t> received{0};
    // The reader takes the first bytes, then reads no more until the
    // cancel is in: the pipe fills and the save blocks on it, so it is
    // still running when the cancel comes (a gate, not a slow reader).
    std::promise<void> firstBytes;
    std::promise<void> cancelled;
    std::shared_future<void> resume = cancelled.get_future().share();
    std::thread reader([&, resume] {
        char buffer[65536];
        ssize_t n;
        bool first = true;
        while ((n = ::read(ends[0], buffer, sizeof buffer)) > 0)
        {
            received += static_cast<size_t>(n);
            if (first)
            {
                first = false;
                firstBytes.set_value();
                resume.wait();
            }
        }
        if (first)
        {
            firstBytes.set_value(); // no byte at all: the checks fail
        }
    });
    std::pair<std::string, std::string> failure;
    std::thread saver([&] {
        auto own = bus->connect();
        DeviceProxy dev(*own, pathOf("0000:0c:00.0"));
        failure = failureOf([&] {
            dev.SaveState(sdbus::UnixFd(ends[1], sdbus::adopt_fd), {});
        });
    });
    // The simulated driver generates the whole stream on STOP -> STOP_COPY;
    // once it flows, the cancel.
    firstBytes.get_future().wait();
    EXPECT_GT(received.load(), 0u);
    device("0000:0c:00.0")->CancelMigration({});
    cancelled.set_value();
    saver.join();
    reader.join();
    ::close(ends[0]);
    EXPECT_EQ(failure.first, "org.vfiod1.Error.Cancelled") << failure.second;
    EXPECT_NE(failure.second.find("RUNNING"), std::string::npos)
        << failure.second;
    EXPECT_LT(received.load(), stateSize);
    EXPECT_EQ(device("0000:0c:00.0")->MigrationState(), "RUNNING");
    // Nothing left to cancel.
    EXPECT_EQ(errorOf([&] { device("0000:0c:00.0")->CancelMigration({}); }),
              "org.vfiod1.Error.NotFound");
}

TEST_F(MigrationTest, BadStreamFailsAndLeavesTheDeviceRunning)
{
    {
        int fd = openFile("bad.bin", O_WRONLY | O_CREAT | O_TRUNC);
        std::string garbage(4096, 'x');
        ASSERT_EQ(::write(fd, garbage.data(), garbage.size()),
                  static_cast<ssize_t>(garbage.size()));
        ::close(fd);
    }
    auto [name, message] = failureOf([&] { load("0000:0b:00.0", "bad.bin"); });
    EXPECT_EQ(name, "org.vfiod1.Error.Failed") << message;
    EXPECT_NE(message.find("RUNNING"), std::string::npos) << message;
    EXPECT_EQ(device("0000:0b:00.0")->MigrationState(), "RUNNING");
    // And it still migrates.
    save("0000:0b:00.0", "good.bin");
    EXPECT_EQ(device("0000:0b:00.0")->MigrationState(), "STOP");
}

} // namespace
} // namespace vfiod::test
