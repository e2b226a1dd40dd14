// The binding engine and the device manager on the simulated host: the
// kernel's behaviour is reproduced there, so whole sequences can be
// checked end to end, including the rollbacks.

#include "base/error.hpp"
#include "kernel/sysfs_layout.hpp"
#include "pci/pci_device.hpp"
#include "service/device_manager.hpp"
#include "sim/sim_host.hpp"
#include "test_support.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using vfiod::DeviceManager;
using vfiod::DeviceState;
using vfiod::Errc;
using vfiod::Error;
using vfiod::PciAddress;

namespace
{

std::string sourceRoot()
{
    return vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT");
}

/// A timeout for tests that do not test it: no slow machine reaches it.
constexpr std::chrono::milliseconds outOfReach = std::chrono::hours(1);

class ManagerOnSim : public ::testing::Test
{
  protected:
    void TearDown() override
    {
        manager.reset();
        sim.reset();
    }

    void start(const std::string& hostFile,
               std::chrono::milliseconds unbindTimeout = outOfReach)
    {
        sim = std::make_unique<vfiod::SimHost>(hostFile, dir + "/state");
        vfiod::ManagerOptions options;
        options.timeouts.unbind = unbindTimeout;
        options.timeouts.devNode = outOfReach;
        options.groupLockWait = outOfReach;
        manager = std::make_unique<DeviceManager>(*sim, options);
        manager->subscribe([this](const vfiod::DeviceChange& change) {
            std::lock_guard lock(changesMutex);
            changes.push_back(change);
        });
        manager->enumerate();
    }

    void startShipped()
    {
        start(sourceRoot() + "/conf/sim-host.toml");
    }

    std::string writeHostFile(const std::string& text)
    {
        std::string path = dir + "/host.toml";
        std::ofstream(path) << text;
        return path;
    }

    vfiod::DeviceInfo info(const std::string& address)
    {
        auto found = manager->info(PciAddress::parse(address));
        EXPECT_TRUE(found) << address;
        return found.value_or(vfiod::DeviceInfo{});
    }

    std::string attr(const std::string& address, const std::string& name)
    {
        return sim
            ->read(vfiod::sysfs::deviceAttr(PciAddress::parse(address), name))
            .value_or("<missing>");
    }

    template <typename Op>
    Error failure(Op op)
    {
        try
        {
            op();
        }
        catch (const Error& e)
        {
            return e;
        }
        ADD_FAILURE() << "operation succeeded";
        return Error(Errc::Failed, "");
    }

    static bool contains(const Error& e, const std::string& text)
    {
        return std::string(e.what()).find(text) != std::string::npos;
    }

    vfiod::test::TempDir tmp;
    const std::string& dir = tmp.path();
    std::unique_ptr<vfiod::SimHost> sim;
    std::unique_ptr<DeviceManager> manager;
    std::mutex changesMutex;
    std::vector<vfiod::DeviceChange> changes;
};

// A small host: vfio_pci (loaded on demand) and e1000e; tests add devices.
const std::string e1000eHost = R"(
[[module]]
name = "vfio_pci"
drivers = ["vfio-pci"]

[[module]]
name = "e1000e"
drivers = ["e1000e"]

[[driver]]
name = "e1000e"
ids = ["8086:10d3"]
)";

constexpr const char* nvme = "0000:02:00.0";
constexpr const char* gpu = "0000:01:00.0";
constexpr const char* bridge = "0000:00:01.0";
constexpr const char* nicPf = "0000:03:00.0";

} // namespace

TEST_F(ManagerOnSim, EnumeratesEveryDevice)
{
    startShipped();
    auto addresses = manager->addresses();
    EXPECT_EQ(addresses.size(), vfiod::listPciDevices(*sim).size());
    EXPECT_GE(addresses.size(), 8u);
    auto device = info(nvme);
    EXPECT_EQ(device.pci.driver, "nvme");
    EXPECT_EQ(device.state, DeviceState::Host);
    EXPECT_FALSE(device.originalDriver);
}

TEST_F(ManagerOnSim, BindsToVfioAndGivesBackTheOriginalDriver)
{
    startShipped();
    auto address = PciAddress::parse(nvme);
    // vfio-pci is not loaded at boot: the engine must modprobe it.
    EXPECT_FALSE(sim->exists("bus/pci/drivers/vfio-pci"));

    manager->bind(address, "");
    auto bound = info(nvme);
    EXPECT_EQ(bound.pci.driver, "vfio-pci");
    EXPECT_EQ(bound.state, DeviceState::Vfio);
    EXPECT_EQ(bound.originalDriver, "nvme");
    EXPECT_EQ(attr(nvme, "driver_override"), "vfio-pci\n");
    EXPECT_TRUE(sim->devNodeExists("vfio/3"));
    EXPECT_TRUE(bound.lastError.empty());

    // Binding again is a no-op.
    manager->bind(address, "vfio-pci");
    EXPECT_EQ(info(nvme).originalDriver, "nvme");

    manager->unbind(address);
    auto back = info(nvme);
    EXPECT_EQ(back.pci.driver, "nvme");
    EXPECT_EQ(back.state, DeviceState::Host);
    EXPECT_FALSE(back.originalDriver);
    EXPECT_EQ(attr(nvme, "driver_override"), "(null)\n");
    EXPECT_FALSE(sim->devNodeExists("vfio/3"));
}

TEST_F(ManagerOnSim, RefusesANonViableGroupAndChangesNothing)
{
    startShipped();
    Error e = failure([&] { manager->bind(PciAddress::parse(gpu), ""); });
    EXPECT_EQ(e.code(), Errc::NotViable);
    EXPECT_TRUE(contains(e, "0000:01:00.1")) << e.what();
    EXPECT_TRUE(contains(e, "snd_hda_intel")) << e.what();
    EXPECT_EQ(info(gpu).pci.driver, "nouveau");
    EXPECT_EQ(attr(gpu, "driver_override"), "(null)\n");
    EXPECT_EQ(info(gpu).lastError, e.what());
    EXPECT_FALSE(sim->exists("bus/pci/drivers/vfio-pci"));
}

TEST_F(ManagerOnSim, BindsAWholeGroup)
{
    startShipped();
    // One at a time, the GPU and its audio function block each other.
    EXPECT_THROW(manager->bind(PciAddress::parse("0000:01:00.1"), ""), Error);
    manager->bind(PciAddress::parse(gpu), "vfio-pci", true);
    EXPECT_EQ(info(gpu).pci.driver, "vfio-pci");
    EXPECT_EQ(info("0000:01:00.1").pci.driver, "vfio-pci");
    EXPECT_EQ(info(gpu).originalDriver, "nouveau");
    EXPECT_EQ(info("0000:01:00.1").originalDriver, "snd_hda_intel");
    EXPECT_TRUE(sim->devNodeExists("vfio/2"));

    manager->unbind(PciAddress::parse("0000:01:00.1"));
    manager->unbind(PciAddress::parse(gpu));
    EXPECT_EQ(info(gpu).pci.driver, "nouveau");
    EXPECT_EQ(info("0000:01:00.1").pci.driver, "snd_hda_intel");
}

TEST_F(ManagerOnSim, AWholeGroupMovesAllOrNothing)
{
    start(writeHostFile(e1000eHost + R"(
[[device]]
address = "0000:06:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 9
driver = "e1000e"

[[device]]
address = "0000:06:00.1"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 9
driver = "e1000e"
fail_probe = ["vfio-pci"]
)"));
    Error e = failure(
        [&] { manager->bind(PciAddress::parse("0000:06:00.0"), "", true); });
    EXPECT_EQ(e.code(), Errc::Failed);
    EXPECT_EQ(info("0000:06:00.0").pci.driver, "e1000e");
    EXPECT_EQ(info("0000:06:00.1").pci.driver, "e1000e");
    EXPECT_EQ(attr("0000:06:00.0", "driver_override"), "(null)\n");
    EXPECT_EQ(attr("0000:06:00.1", "driver_override"), "(null)\n");
}

TEST_F(ManagerOnSim, RefusesABridge)
{
    startShipped();
    Error e = failure([&] { manager->bind(PciAddress::parse(bridge), ""); });
    EXPECT_EQ(e.code(), Errc::NotSupported);
    EXPECT_TRUE(contains(e, "bridge")) << e.what();
    EXPECT_EQ(info(bridge).pci.driver, "pcieport");
}

TEST_F(ManagerOnSim, RefusesAPfWithVfsEnabled)
{
    startShipped();
    sim->write(
        vfiod::sysfs::deviceAttr(PciAddress::parse(nicPf), "sriov_numvfs"),
        "2");
    manager->enumerate();
    Error e = failure([&] { manager->bind(PciAddress::parse(nicPf), ""); });
    EXPECT_EQ(e.code(), Errc::Busy);
    EXPECT_TRUE(contains(e, "2 VFs enabled")) << e.what();
    EXPECT_EQ(info(nicPf).pci.driver, "i40e");
    EXPECT_EQ(attr(nicPf, "driver_override"), "(null)\n");
}

TEST_F(ManagerOnSim, RollsBackWhenTheProbeFails)
{
    start(writeHostFile(e1000eHost + R"(
[[device]]
address = "0000:05:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 7
driver = "e1000e"
fail_probe = ["vfio-pci"]
)"));
    Error e = failure(
        [&] { manager->bind(PciAddress::parse("0000:05:00.0"), "vfio-pci"); });
    EXPECT_EQ(e.code(), Errc::Failed);
    EXPECT_TRUE(contains(e, "not on vfio-pci")) << e.what();
    EXPECT_TRUE(contains(e, "rolled back to e1000e")) << e.what();
    auto device = info("0000:05:00.0");
    EXPECT_EQ(device.pci.driver, "e1000e");
    EXPECT_EQ(device.state, DeviceState::Host);
    EXPECT_EQ(attr("0000:05:00.0", "driver_override"), "(null)\n");
    EXPECT_FALSE(device.lastError.empty());
}

TEST_F(ManagerOnSim, AssignHoldsTheDeviceUntilReleased)
{
    startShipped();
    auto address = PciAddress::parse(nvme);
    manager->assign(address, ":1.7 uid=1000", "");
    EXPECT_EQ(info(nvme).state, DeviceState::Assigned);
    EXPECT_EQ(info(nvme).owner, ":1.7 uid=1000");

    Error again =
        failure([&] { manager->assign(address, ":1.8 uid=1001", ""); });
    EXPECT_EQ(again.code(), Errc::Busy);
    EXPECT_TRUE(contains(again, ":1.7")) << again.what();
    Error unbind = failure([&] { manager->unbind(address); });
    EXPECT_EQ(unbind.code(), Errc::Busy);
    Error wrongOwner =
        failure([&] { manager->release(address, ":1.8 uid=1001"); });
    EXPECT_EQ(wrongOwner.code(), Errc::Busy);

    manager->release(address, ":1.7 uid=1000");
    EXPECT_EQ(info(nvme).state, DeviceState::Vfio);
    manager->unbind(address);
    EXPECT_EQ(info(nvme).pci.driver, "nvme");
}

TEST_F(ManagerOnSim, BlockedUnbindTimesOutAndTheDeviceStaysBusy)
{
    start(sourceRoot() + "/conf/sim-host.toml", 300ms);
    auto address = PciAddress::parse(nvme);
    manager->bind(address, "");
    sim->openDevice(address); // a VM holds the device

    Error e = failure([&] { manager->unbind(address); });
    EXPECT_EQ(e.code(), Errc::TimedOut);
    Error busy = failure([&] { manager->bind(address, ""); });
    EXPECT_EQ(busy.code(), Errc::Busy);

    // The VM closes the device: the kernel completes the unbind, and the
    // unbind uevent lets vfiod finish giving the device back.
    auto events = sim->openUevents();
    sim->closeDevice(address);
    // Each uevent as it comes (no time bound: a missing one hangs the test
    // until meson's timeout).
    while (info(nvme).pci.driver != "nvme")
    {
        vfiod::test::waitReadable(events->fd());
        for (const auto& event : events->receive())
        {
            manager->handleUevent(event);
        }
    }
    EXPECT_EQ(info(nvme).pci.driver, "nvme");
    EXPECT_EQ(info(nvme).state, DeviceState::Host);
    EXPECT_EQ(attr(nvme, "driver_override"), "(null)\n");
}

TEST_F(ManagerOnSim, BindWhoseUnbindTimesOutEndsBackOnTheHostDriver)
{
    start(writeHostFile(e1000eHost + R"(
[[device]]
address = "0000:05:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 7
driver = "e1000e"
unbind_delay_ms = 800
)"),
          200ms);
    auto address = PciAddress::parse("0000:05:00.0");
    auto events = sim->openUevents();
    Error e = failure([&] { manager->bind(address, "vfio-pci"); });
    EXPECT_EQ(e.code(), Errc::TimedOut);

    // The kernel finishes the unbind later; vfiod must not leave the
    // device driverless with a vfio override. Each uevent as it comes.
    while (info("0000:05:00.0").pci.driver != "e1000e" ||
           attr("0000:05:00.0", "driver_override") != "(null)\n")
    {
        vfiod::test::waitReadable(events->fd());
        for (const auto& event : events->receive())
        {
            manager->handleUevent(event);
        }
    }
    EXPECT_EQ(info("0000:05:00.0").pci.driver, "e1000e");
    EXPECT_EQ(attr("0000:05:00.0", "driver_override"), "(null)\n");
    EXPECT_EQ(info("0000:05:00.0").state, DeviceState::Host);
}

TEST_F(ManagerOnSim, ResetsWithAChosenMethodAndRestoresTheList)
{
    startShipped();
    auto address = PciAddress::parse(nicPf);
    auto before = std::stoi(attr(nicPf, "sim_reset_count"));
    manager->reset(address, "pm");
    EXPECT_EQ(std::stoi(attr(nicPf, "sim_reset_count")), before + 1);
    EXPECT_EQ(attr(nicPf, "reset_method"), "flr pm bus\n");

    Error e = failure([&] { manager->reset(address, "cxl_bus"); });
    EXPECT_EQ(e.code(), Errc::NotSupported);
    EXPECT_TRUE(contains(e, "flr pm bus")) << e.what();
}

TEST_F(ManagerOnSim, ResetOfADeviceWithoutMethodIsNotSupported)
{
    startShipped();
    // The host bridge has no reset method.
    Error e =
        failure([&] { manager->reset(PciAddress::parse("0000:00:00.0"), ""); });
    EXPECT_EQ(e.code(), Errc::NotSupported);
}

TEST_F(ManagerOnSim, UeventsBringDevicesAndOutsideChanges)
{
    startShipped();
    auto events = sim->openUevents();
    sim->hotAdd(R"(address = "0000:09:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 30
)");
    for (const auto& event : events->receive())
    {
        manager->handleUevent(event);
    }
    auto added = manager->info(PciAddress::parse("0000:09:00.0"));
    ASSERT_TRUE(added);
    EXPECT_EQ(added->pci.driver, "e1000e");

    sim->hotRemove(PciAddress::parse("0000:09:00.0"));
    for (const auto& event : events->receive())
    {
        manager->handleUevent(event);
    }
    EXPECT_FALSE(manager->info(PciAddress::parse("0000:09:00.0")));

    std::lock_guard lock(changesMutex);
    bool sawAdd = false;
    bool sawRemove = false;
    for (const auto& change : changes)
    {
        if (change.address == PciAddress::parse("0000:09:00.0"))
        {
            sawAdd |= change.kind == vfiod::DeviceChange::Kind::Added;
            sawRemove |= change.kind == vfiod::DeviceChange::Kind::Removed;
        }
    }
    EXPECT_TRUE(sawAdd);
    EXPECT_TRUE(sawRemove);
}
