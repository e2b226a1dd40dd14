// vfiod over time: hotplug announcements, leases whose holder dies, a slow
// operation that must not hold up other devices, and start-up/shutdown.

#include "base/pci_address.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"
#include "vfiod_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using Clock = std::chrono::steady_clock;

class LifecycleTest : public VfiodTest
{
  protected:
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

TEST_F(LifecycleTest, HotplugAnnouncesObjects)
{
    startVfiod();
    auto signals = recordSignals();
    const std::string address = "0000:0a:00.0";
    sim({"add", "address = \"" + address +
                    "\"\nvendor = 0x8086\ndevice = 0x10d3\n"
                    "class = 0x020000\niommu_group = 20\n"});

    signals->waitFor(objectSignal("InterfacesAdded", pathOf(address)));
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
    signals->waitFor(propertyChanged(pathOf(address), "Driver"));

    sim({"remove", address});
    signals->waitFor(objectSignal("InterfacesRemoved", pathOf(address)));
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
    signals->waitFor(propertyChanged(pathOf(address), "Driver"));
    EXPECT_EQ(device(address)->Driver(), "");
}

TEST_F(LifecycleTest, KilledLeaseHolderReleases)
{
    startVfiod();
    const std::string address = "0000:08:00.0";
    auto dev = device(address);
    ChildProcess holder(bus->clientCommand({"hold", pathOf(address)}),
                        bus->dir() / "holder.log");
    ASSERT_TRUE(bus->waitFor([&] { return dev->State() == "assigned"; }))
        << readFile(bus->dir() / "holder.log");

    holder.stop(SIGKILL);
    EXPECT_TRUE(bus->waitFor([&] { return dev->State() == "vfio"; }));
    EXPECT_EQ(dev->Owner(), "");
    EXPECT_NE(bus->vfiodLog().find("closed its lease"), std::string::npos);
}

TEST_F(LifecycleTest, SlowKernelCallDoesNotStallOtherDevices)
{
    // The slow call: an Unbind from vfio-pci of a device a "VM" holds open.
    // The kernel finishes it only when the test closes the device (a gate
    // the test holds; unbind_ms is out of reach), so all the calls below
    // provably run while it blocks a worker: no clock involved.
    startVfiod("[timeouts]\nunbind_ms = 600000\n");
    const std::string slow = "0000:07:00.0";
    const std::string other = "0000:03:00.0";
    const PciAddress slowAddress = PciAddress::parse(slow);
    auto slowDevice = device(slow);
    auto otherDevice = device(other);
    slowDevice->Bind({});
    ASSERT_EQ(slowDevice->Driver(), "vfio-pci");
    SimHost vm(hostFile(), bus->simState());
    vm.openDevice(slowAddress);

    // Forced: without it the VM's hold is refused at once (InUse).
    ChildProcess unbinder(
        bus->clientCommand({"call", pathOf(slow), "Unbind", "force:b=true"}),
        bus->dir() / "unbinder.log");
    // The unbind is in the kernel, waiting for the close.
    simtest::waitForPending(bus->simState(), slowAddress);

    EXPECT_EQ(manager->GetDevice(other), pathOf(other));
    EXPECT_FALSE(manager->ListDevices().empty());
    EXPECT_NO_THROW(slowDevice->State());
    EXPECT_EQ(slowDevice->Driver(), "vfio-pci");
    EXPECT_EQ(errorOf([&] { otherDevice->Reset({}); }), "");
    EXPECT_EQ(errorOf([&] { otherDevice->Bind({}); }), "");
    EXPECT_EQ(otherDevice->Driver(), "vfio-pci");
    // In that order: all of it while the slow call still blocked.
    EXPECT_TRUE(unbinder.running());
    EXPECT_TRUE(simtest::pendingIn(bus->simState(), slowAddress));

    vm.closeDevice(slowAddress);
    EXPECT_EQ(unbinder.wait(), 0) << readFile(bus->dir() / "unbinder.log");
    EXPECT_EQ(readFile(bus->dir() / "unbinder.log"), "ok\n");
    EXPECT_EQ(slowDevice->Driver(), "e1000e");
}

TEST_F(LifecycleTest, AnOutsideVmmIsNamedRefusedAndOnlyForcedPast)
{
    startVfiod("[timeouts]\nunbind_ms = 300\n");
    const std::string address = "0000:07:00.0";
    const PciAddress pci = PciAddress::parse(address);
    auto dev = device(address);
    dev->Bind({});
    ASSERT_EQ(dev->Driver(), "vfio-pci");
    // A VMM vfiod did not start: this test process holds the group.
    SimHost vm(hostFile(), bus->simState());
    vm.openDevice(pci);
    const std::string vmm = "pid " + std::to_string(::getpid());

    for (const auto& [method, call] :
         std::vector<std::pair<std::string, std::function<void()>>>{
             {"Unbind", [&] { dev->Unbind({}); }},
             {"Assign", [&] { dev->Assign({}); }},
             {"Reset", [&] { dev->Reset({}); }},
         })
    {
        auto [name, message] = failureOf(call);
        EXPECT_EQ(name, "org.vfiod1.Error.InUse") << method << ": " << message;
        EXPECT_NE(message.find(vmm), std::string::npos) << message;
        EXPECT_NE(message.find("/dev/vfio/14"), std::string::npos) << message;
    }
    EXPECT_EQ(dev->Driver(), "vfio-pci");
    EXPECT_EQ(dev->State(), "vfio");
    EXPECT_EQ(dev->Owner(), "");
    // The device object names it too, for vfioctl list.
    std::vector<std::string> holders = dev->Holders();
    ASSERT_EQ(holders.size(), 1u);
    EXPECT_EQ(holders[0].substr(0, holders[0].find(' ')),
              std::to_string(::getpid()));
    EXPECT_EQ(vm.read("bus/pci/devices/" + address + "/sim_reset_count"),
              "0\n");

    // Forced, the unbind reaches the kernel, which waits for the VMM: the
    // caller gets TimedOut while the kernel still blocks, and the next
    // call gets Busy naming the blocked one, also while it blocks.
    auto [timedOut, why] = failureOf([&] {
        dev->Unbind({{"force", sdbus::Variant(true)}});
    });
    EXPECT_EQ(timedOut, "org.vfiod1.Error.TimedOut") << why;
    auto [busy, stuck] = failureOf([&] { dev->Bind({}); });
    EXPECT_EQ(busy, "org.vfiod1.Error.Busy") << stuck;
    EXPECT_NE(stuck.find("still blocked"), std::string::npos) << stuck;
    EXPECT_TRUE(simtest::pendingIn(bus->simState(), pci));

    // The VMM quits: the kernel finishes the unbind, vfiod the give-back.
    vm.closeDevice(pci);
    EXPECT_TRUE(bus->waitFor([&] { return dev->Driver() == "e1000e"; }));
    EXPECT_EQ(dev->State(), "host");
}

TEST_F(LifecycleTest, CallsOnOneDeviceRunInOrder)
{
    startVfiod();
    const std::string slow = "0000:07:00.0"; // its reset takes 3 s
    auto start = Clock::now();
    ChildProcess first(bus->clientCommand({"call", pathOf(slow), "Reset"}),
                       bus->dir() / "first.log");
    // The reset is in the kernel before the Bind is sent.
    simtest::waitForPending(bus->simState(), PciAddress::parse(slow));
    device(slow)->Bind({});
    EXPECT_EQ(first.wait(), 0) << readFile(bus->dir() / "first.log");
    EXPECT_EQ(readFile(bus->dir() / "first.log"), "ok\n");
    // Queued behind the reset: vfiod started the Bind only once the reset
    // was done (the kernel would serialise them anyway, vfiod's log says
    // which came first).
    std::string log = bus->vfiodLog();
    size_t resetDone = log.find("Reset " + slow + " by ");
    size_t bindStarted = log.find("Bind " + slow + " from ");
    ASSERT_NE(resetDone, std::string::npos) << log;
    ASSERT_NE(bindStarted, std::string::npos) << log;
    EXPECT_LT(resetDone, bindStarted) << log;
    // The reset really was slow: at least its delay (no upper bound).
    EXPECT_GE(Clock::now() - start, 2500ms);
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

TEST_F(LifecycleTest, AStateDirectoryThatIsALinkStopsStartUp)
{
    // The ledger (and the simulated kernel, kept beside it with --sim)
    // would be written wherever the link leads.
    TempDir elsewhere;
    std::string state = bus->dir() / "linked-state";
    std::filesystem::create_symlink(elsewhere.path(), state);
    writeFile(bus->configPath(), "");
    auto result = runCommand({requiredEnv("VFIOD_BIN"), "--sim", hostFile(),
                              "--sim-state", state, "--bus-address",
                              bus->address(), "--config", bus->configPath()});
    EXPECT_EQ(result.status, 1) << result.output;
    EXPECT_NE(result.output.find("the state directory " + state +
                                 " is a symbolic link"),
              std::string::npos)
        << result.output;
    EXPECT_TRUE(std::filesystem::is_empty(elsewhere.path()));
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
    startVfiod("[timeouts]\nidle_exit_ms = 600\n");
    auto nic = device("0000:03:00.0");
    nic->Bind({});
    // A device taken from its driver keeps vfiod: it looks every 150 ms
    // (a quarter period) and logs (-v) what keeps it. Five such looks span
    // a whole period; vfiod must still run after them.
    const std::string busy = "idle check: 0000:03:00.0 is managed";
    auto looks = [&] {
        std::string log = bus->vfiodLog();
        int n = 0;
        for (size_t at = log.find(busy); at != std::string::npos;
             at = log.find(busy, at + 1))
        {
            ++n;
        }
        return n;
    };
    ASSERT_TRUE(bus->waitFor([&] { return looks() >= 5; })) << bus->vfiodLog();
    ASSERT_TRUE(bus->vfiodProcess()->running()) << bus->vfiodLog();
    nic->Unbind({});
    EXPECT_EQ(bus->vfiodProcess()->wait(), 0) << bus->vfiodLog();
    EXPECT_NE(bus->vfiodLog().find("exiting"), std::string::npos);
    expectCleanExit = false;
}

} // namespace
} // namespace vfiod::test
