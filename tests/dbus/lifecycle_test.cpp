// vfiod over time: hotplug announcements, leases whose holder dies, a slow
// operation that must not hold up other devices, and start-up/shutdown.

#include "base/pci_address.hpp"
#include "sim/sim_host.hpp"
#include "vfiod_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using Clock = std::chrono::steady_clock;

class LifecycleTest : public VfiodTest
{
  protected:
    /** @brief Waits until vfiod logs (-v) that a Reset is running. */
    bool resetStarted(const std::string& address)
    {
        return waitUntil(
            [&] {
                return bus->vfiodLog().find("Reset " + address + " from ") !=
                       std::string::npos;
            },
            5s);
    }

    /**
     * @brief Hot-adds or removes a device the way an administrator would:
     * with the vfiod-sim tool when it is built, otherwise through SimHost
     * on the same state directory (the simulated kernel is shared by every
     * process that opens it).
     */
    void sim(const std::vector<std::string>& args)
    {
        if (auto result = bus->simTool(args))
        {
            ASSERT_EQ(result->status, 0) << result->output;
            return;
        }
        SimHost host(hostFile(), bus->simState());
        if (args.at(0) == "add")
        {
            host.hotAdd(args.at(1));
        }
        else
        {
            host.hotRemove(PciAddress::parse(args.at(1)));
        }
    }
};

/** @brief How long @p call takes. */
std::chrono::milliseconds timed(const std::function<void()>& call)
{
    auto start = Clock::now();
    call();
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                 start);
}

TEST_F(LifecycleTest, HotplugAnnouncesObjects)
{
    startVfiod();
    auto signals = recordSignals();
    const std::string address = "0000:0a:00.0";
    sim({"add", "address = \"" + address +
                    "\"\nvendor = 0x8086\ndevice = 0x10d3\n"
                    "class = 0x020000\niommu_group = 20\n"});

    ASSERT_TRUE(
        signals->waitFor(objectSignal("InterfacesAdded", pathOf(address)), 5s));
    for (const auto& s : signals->signals())
    {
        if (s.member == "InterfacesAdded")
        {
            EXPECT_NE(
                std::find(s.names.begin(), s.names.end(), "org.vfiod1.Device"),
                s.names.end());
        }
    }
    // Announced only once complete: the properties are there.
    EXPECT_EQ(device(address)->VendorId(), 0x8086);
    EXPECT_EQ(device(address)->IommuGroup(), 20);

    // A change the kernel makes on its own shows up as PropertiesChanged.
    device(address)->Bind({});
    EXPECT_TRUE(
        signals->waitFor(propertyChanged(pathOf(address), "Driver"), 5s));

    sim({"remove", address});
    ASSERT_TRUE(signals->waitFor(
        objectSignal("InterfacesRemoved", pathOf(address)), 5s));
    EXPECT_EQ(errorOf([&] { manager->GetDevice(address); }),
              "org.vfiod1.Error.NotFound");
}

TEST_F(LifecycleTest, KernelSideChangesAreAnnounced)
{
    startVfiod();
    const std::string address = "0000:03:00.0";
    auto signals = recordSignals();
    // Somebody unbinds the driver behind vfiod's back.
    auto unbind = bus->simTool({"unbind", address});
    if (!unbind)
    {
        GTEST_SKIP() << "tools/vfiod-sim is not built";
    }
    ASSERT_EQ(unbind->status, 0) << unbind->output;
    EXPECT_TRUE(
        signals->waitFor(propertyChanged(pathOf(address), "Driver"), 5s));
    EXPECT_EQ(device(address)->Driver(), "");
}

TEST_F(LifecycleTest, KilledLeaseHolderReleases)
{
    startVfiod();
    const std::string address = "0000:08:00.0";
    auto dev = device(address);
    ChildProcess holder(bus->clientCommand({"hold", pathOf(address)}),
                        bus->dir() / "holder.log");
    ASSERT_TRUE(waitUntil([&] { return dev->State() == "assigned"; }, 5s))
        << readFile(bus->dir() / "holder.log");

    holder.stop(SIGKILL, 5s);
    EXPECT_TRUE(waitUntil([&] { return dev->State() == "vfio"; }, 5s));
    EXPECT_EQ(dev->Owner(), "");
    EXPECT_NE(bus->vfiodLog().find("closed its lease"), std::string::npos);
}

TEST_F(LifecycleTest, SlowResetDoesNotStallOtherDevices)
{
    startVfiod();
    const std::string slow = "0000:07:00.0";
    const std::string other = "0000:03:00.0";
    auto slowDevice = device(slow);
    auto otherDevice = device(other);

    auto start = Clock::now();
    ChildProcess resetter(bus->clientCommand({"call", pathOf(slow), "Reset"}),
                          bus->dir() / "resetter.log");
    // Once the reset runs on a worker, what follows must still be quick.
    ASSERT_TRUE(resetStarted(slow));

    EXPECT_LT(timed([&] { manager->GetDevice(other); }), 1s);
    EXPECT_LT(timed([&] { manager->ListDevices(); }), 1s);
    EXPECT_LT(timed([&] { slowDevice->State(); }), 1s);
    EXPECT_LT(timed([&] { slowDevice->Driver(); }), 1s);
    EXPECT_LT(timed([&] { otherDevice->Reset({}); }), 1s);
    EXPECT_LT(timed([&] { otherDevice->Bind({}); }), 1s);

    ASSERT_EQ(resetter.wait(10s), std::optional<int>(0))
        << readFile(bus->dir() / "resetter.log");
    EXPECT_EQ(readFile(bus->dir() / "resetter.log"), "ok\n");
    // The reset really was slow.
    EXPECT_GE(Clock::now() - start, 2500ms);
}

TEST_F(LifecycleTest, CallsOnOneDeviceRunInOrder)
{
    startVfiod();
    const std::string slow = "0000:07:00.0";
    ChildProcess first(bus->clientCommand({"call", pathOf(slow), "Reset"}),
                       bus->dir() / "first.log");
    ASSERT_TRUE(resetStarted(slow));
    // Queued behind the reset, then done.
    auto start = Clock::now();
    device(slow)->Bind({});
    EXPECT_GE(Clock::now() - start, 1500ms);
    EXPECT_EQ(first.wait(10s), std::optional<int>(0));
    EXPECT_EQ(device(slow)->Driver(), "vfio-pci");
}

TEST_F(LifecycleTest, ServesTheShippedSimulatedHost)
{
    bus->startVfiod(requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml",
                    defaultConfig);
    connection = bus->connect();
    manager = std::make_unique<ManagerProxy>(*connection);
    auto devices = manager->ListDevices();
    ASSERT_FALSE(devices.empty());
    DeviceProxy first(*connection, devices.front());
    EXPECT_EQ(manager->GetDevice(first.Address()), devices.front());
    EXPECT_EQ(manager->Backend(), "sim");
}

TEST_F(LifecycleTest, SecondInstanceExitsWhenTheNameIsTaken)
{
    startVfiod();
    TempDir other;
    auto second = runCommand({requiredEnv("VFIOD_BIN"), "--sim", hostFile(),
                              "--sim-state", other / "sim", "--bus-address",
                              bus->address(), "--config", bus->configPath()});
    EXPECT_EQ(second.status, 1) << second.output;
    EXPECT_NE(second.output.find("already owned"), std::string::npos)
        << second.output;
    // The first one is unaffected.
    EXPECT_EQ(manager->Backend(), "sim");
}

TEST_F(LifecycleTest, ShippedPolicyLetsOnlyRootOwnTheName)
{
    if (!canSwitchUser())
    {
        GTEST_SKIP() << "needs root to run vfiod as nobody";
    }
    TempDir other;
    ::chmod(other.path().c_str(), 0777);
    writeFile(other / "vfiod.toml", "");
    // A copy nobody can read: the checkout may sit in a private directory.
    writeFile(other / "host.toml", readFile(hostFile()));
    ::chmod((other / "host.toml").c_str(), 0644);
    ::chmod((other / "vfiod.toml").c_str(), 0644);
    auto result = runCommand(
        asNobody({requiredEnv("VFIOD_BIN"), "--sim", other / "host.toml",
                  "--sim-state", other / "sim", "--bus-address", bus->address(),
                  "--config", other / "vfiod.toml"}));
    EXPECT_EQ(result.status, 1) << result.output;
    EXPECT_NE(result.output.find("does not let this user own"),
              std::string::npos)
        << result.output;
}

TEST_F(LifecycleTest, BadConfigurationStopsStartUp)
{
    writeFile(bus->configPath(), "[timeouts]\nunbind_ms = \"soon\"\n");
    auto result = runCommand({requiredEnv("VFIOD_BIN"), "--sim", hostFile(),
                              "--sim-state", bus->simState(), "--bus-address",
                              bus->address(), "--config", bus->configPath()});
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.output.find("vfiod.toml:2:13"), std::string::npos)
        << result.output;

    auto missing = runCommand({requiredEnv("VFIOD_BIN"), "--sim", hostFile(),
                               "--bus-address", bus->address(), "--config",
                               bus->dir() / "absent.toml"});
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.output.find("absent.toml"), std::string::npos);
}

TEST_F(LifecycleTest, SigtermExitsCleanlyWithALeaseHeld)
{
    startVfiod();
    auto dev = device("0000:08:00.0");
    sdbus::UnixFd lease = dev->Assign({});
    EXPECT_EQ(bus->stopVfiod(), std::optional<int>(0)) << bus->vfiodLog();
    // vfiod is gone: after the token line, the holder sees the end of its
    // lease.
    char buffer[64];
    ssize_t token = ::read(lease.get(), buffer, sizeof buffer);
    EXPECT_EQ(token, 33) << "a 32-digit token and a newline";
    EXPECT_EQ(::read(lease.get(), buffer, sizeof buffer), 0);
    expectCleanExit = false;
}

TEST_F(LifecycleTest, IdleExitEndsOnlyAnUnneededDaemon)
{
    startVfiod(std::string(defaultConfig) + "idle_exit_ms = 600\n");
    auto nic = device("0000:03:00.0");
    nic->Bind({});
    // A device taken from its driver keeps vfiod.
    std::this_thread::sleep_for(1500ms);
    ASSERT_TRUE(bus->vfiodProcess()->running()) << bus->vfiodLog();
    nic->Unbind({});
    EXPECT_EQ(bus->vfiodProcess()->wait(10s), std::optional<int>(0))
        << bus->vfiodLog();
    EXPECT_NE(bus->vfiodLog().find("exiting"), std::string::npos);
    expectCleanExit = false;
}

} // namespace
} // namespace vfiod::test
