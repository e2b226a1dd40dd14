// driver_override, bind, unbind, drivers_probe, new_id/remove_id and
// modprobe, with the kernel's errno for every refusal.

#include "base/error.hpp"
#include "sim_test_util.hpp"

#include <cerrno>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using ::testing::Contains;
using ::testing::Not;

class SimBinding : public SimFixture
{
  protected:
    const std::string override01 =
        "bus/pci/devices/0000:01:00.1/driver_override";
};

TEST_F(SimBinding, DriverOverrideStoresClearsAndNeverBinds)
{
    EXPECT_EQ(writeErrno(override01, "e1000e\n"), 0);
    EXPECT_EQ(read(override01), "e1000e\n");
    EXPECT_EQ(driverOf("0000:01:00.1"), "");
    EXPECT_EQ(writeErrno(override01, "igb"), 0);
    EXPECT_EQ(read(override01), "igb\n");
    EXPECT_EQ(writeErrno(override01, "\n"), 0);
    EXPECT_EQ(read(override01), "(null)\n");
    EXPECT_EQ(writeErrno(override01, "igb"), 0);
    EXPECT_EQ(writeErrno(override01, ""), 0);
    EXPECT_EQ(read(override01), "(null)\n");
    // Only up to the first newline is kept.
    EXPECT_EQ(writeErrno(override01, "a b\nc"), 0);
    EXPECT_EQ(read(override01), "a b\n");
    // A bound device stays bound.
    EXPECT_EQ(
        writeErrno("bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci"),
        0);
    EXPECT_EQ(driverOf("0000:01:00.0"), "e1000e");
}

TEST_F(SimBinding, DriverOverrideTooLongIsEinval)
{
    EXPECT_EQ(writeErrno(override01, std::string(4096, 'x')), EINVAL);
    EXPECT_EQ(writeErrno(override01, std::string(4095, 'x')), EINVAL);
    EXPECT_EQ(writeErrno(override01, std::string(4094, 'x')), 0);
}

TEST_F(SimBinding, UnbindDetachesAndRefusesOtherDrivers)
{
    EXPECT_EQ(writeErrno("bus/pci/drivers/igb/unbind", "0000:01:00.0"), ENODEV);
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/unbind", "0000:09:00.0"),
              ENODEV);
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/unbind", "01:00.0"), ENODEV);
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/unbind", "0000:01:00.0\n"), 0);
    EXPECT_EQ(driverOf("0000:01:00.0"), "");
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:01:00.0/driver"));
    EXPECT_THAT(host->list("bus/pci/drivers/e1000e"),
                Not(Contains("0000:01:00.0")));
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/unbind", "0000:01:00.0"),
              ENODEV);
}

TEST_F(SimBinding, DriversProbeTriesDriversInRegistrationOrder)
{
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "e1000e");
    // Already bound: success, nothing changes.
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "e1000e");
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:09:00.0"), ENODEV);
}

TEST_F(SimBinding, DriversProbeHonoursTheOverride)
{
    ASSERT_EQ(writeErrno(override01, "igb"), 0);
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "igb");
}

TEST_F(SimBinding, OverrideToAnAbsentDriverLeavesTheDeviceUnbound)
{
    ASSERT_EQ(writeErrno(override01, "vfio-pci"), 0);
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "");
}

TEST_F(SimBinding, ProbeFailureIsIgnoredByDriversProbe)
{
    // Every driver matching 04:00.0 fails its probe: the write succeeds and
    // the device stays unbound ("success != bound").
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:04:00.0"), 0);
    EXPECT_EQ(driverOf("0000:04:00.0"), "");
}

TEST_F(SimBinding, ProbeFailureIsReturnedByBind)
{
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:04:00.0"), EIO);
    EXPECT_EQ(driverOf("0000:04:00.0"), "");
}

TEST_F(SimBinding, BindErrors)
{
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:09:00.0"),
              ENODEV);
    // No id match.
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:03:00.0"),
              ENODEV);
    // Already bound (to this or another driver).
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:01:00.0"), EBUSY);
    EXPECT_EQ(writeErrno("bus/pci/drivers/igb/bind", "0000:01:00.0"), EBUSY);
    // Override set to another driver: no match.
    ASSERT_EQ(writeErrno(override01, "igb"), 0);
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:01:00.1"),
              ENODEV);
    EXPECT_EQ(writeErrno("bus/pci/drivers/igb/bind", "0000:01:00.1\n"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "igb");
}

TEST_F(SimBinding, OverrideOnlyDriversNeedTheOverride)
{
    host->modprobe("vfio_pci");
    // vfio-pci's table matches nothing without driver_override...
    EXPECT_EQ(writeErrno("bus/pci/drivers/vfio-pci/bind", "0000:01:00.1"),
              ENODEV);
    // ...and everything with it.
    ASSERT_EQ(writeErrno(override01, "vfio-pci"), 0);
    EXPECT_EQ(writeErrno("bus/pci/drivers/vfio-pci/bind", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "vfio-pci");
}

TEST_F(SimBinding, VfioProbeRefusals)
{
    host->modprobe("vfio_pci");
    auto bindVfio = [&](const std::string& address) {
        host->write("bus/pci/devices/" + address + "/driver_override",
                    "vfio-pci");
        std::string driver = driverOf(address);
        if (!driver.empty())
        {
            host->write("bus/pci/drivers/" + driver + "/unbind", address);
        }
        return writeErrno("bus/pci/drivers/vfio-pci/bind", address);
    };
    EXPECT_EQ(bindVfio("0000:00:01.0"), EINVAL); // bridge
    EXPECT_EQ(bindVfio("0000:05:00.0"), EINVAL); // no IOMMU group
    EXPECT_EQ(bindVfio("0000:04:00.0"), EIO);    // injected failure
    ASSERT_EQ(writeErrno("bus/pci/devices/0000:02:00.0/sriov_numvfs", "2"), 0);
    EXPECT_EQ(bindVfio("0000:02:00.0"), EBUSY); // PF with VFs
    // drivers_probe ignores all of these.
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:05:00.0"), 0);
    EXPECT_EQ(driverOf("0000:05:00.0"), "");
}

TEST_F(SimBinding, ModprobeRegistersAndAutoprobes)
{
    EXPECT_FALSE(host->exists("bus/pci/drivers/late-drv"));
    EXPECT_FALSE(host->exists("module/late_drv"));
    host->modprobe("late-drv"); // '-' and '_' are the same
    EXPECT_TRUE(host->exists("bus/pci/drivers/late-drv"));
    EXPECT_THAT(host->list("module/late_drv/drivers"),
                Contains("pci:late-drv"));
    EXPECT_EQ(driverOf("0000:03:00.0"), "late-drv");
    host->modprobe("late_drv"); // loaded already: nothing happens
}

TEST_F(SimBinding, ModprobeNeverAutobindsOverrideOnlyDrivers)
{
    ASSERT_EQ(writeErrno(override01, "vfio-pci"), 0);
    host->modprobe("vfio_pci");
    EXPECT_TRUE(host->exists("bus/pci/drivers/vfio-pci"));
    EXPECT_TRUE(host->exists("module/vfio"));
    // 01:00.1 names vfio-pci, so registering vfio-pci attaches it; nothing
    // else is touched.
    EXPECT_EQ(driverOf("0000:01:00.1"), "vfio-pci");
    EXPECT_EQ(driverOf("0000:03:00.0"), "");
    EXPECT_EQ(driverOf("0000:04:00.0"), "");
}

TEST_F(SimBinding, ModprobeUnknownModuleIsNotFound)
{
    try
    {
        host->modprobe("no_such_module");
        FAIL() << "modprobe succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
    }
}

TEST_F(SimBinding, NewIdAttachesMatchingDevicesAndRemoveIdForgets)
{
    host->modprobe("vfio_pci");
    const std::string newId = "bus/pci/drivers/vfio-pci/new_id";
    EXPECT_EQ(writeErrno(newId, "8086"), EINVAL);
    EXPECT_EQ(writeErrno(newId, "zz"), EINVAL);
    EXPECT_EQ(writeErrno(newId, "1af4 1041"), 0);
    EXPECT_EQ(driverOf("0000:03:00.0"), "vfio-pci");
    EXPECT_EQ(writeErrno(newId, "1af4 1041"), EEXIST);
    const std::string removeId = "bus/pci/drivers/vfio-pci/remove_id";
    EXPECT_EQ(writeErrno(removeId, "1af4 1041"), 0);
    EXPECT_EQ(writeErrno(removeId, "1af4 1041"), ENODEV);
    EXPECT_EQ(writeErrno(removeId, "1af4"), EINVAL);
    // Removing the id does not unbind.
    EXPECT_EQ(driverOf("0000:03:00.0"), "vfio-pci");
}

TEST_F(SimBinding, DmaDriverCannotTakeASiblingOfAnOpenVfioDevice)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(PciAddress::parse("0000:01:00.0"));
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:01:00.1"), EBUSY);
    // drivers_probe reports the failure before probe as EINVAL.
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), EINVAL);
    EXPECT_EQ(driverOf("0000:01:00.1"), "");
    host->closeDevice(PciAddress::parse("0000:01:00.0"));
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:01:00.1"), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "e1000e");
}

TEST_F(SimBinding, OpenNeedsAVfioDriverAndAViableGroup)
{
    auto openErrc = [&](const std::string& address) {
        try
        {
            host->openDevice(PciAddress::parse(address));
            return std::optional<Errc>();
        }
        catch (const Error& e)
        {
            return std::optional<Errc>(e.code());
        }
    };
    EXPECT_EQ(openErrc("0000:01:00.0"), Errc::Failed);
    EXPECT_EQ(openErrc("0000:09:00.0"), Errc::NotFound);
    bindToVfio("0000:01:00.0");
    ASSERT_EQ(writeErrno("bus/pci/drivers/e1000e/bind", "0000:01:00.1"), 0);
    EXPECT_EQ(openErrc("0000:01:00.0"), Errc::NotViable);
    host->write("bus/pci/drivers/e1000e/unbind", "0000:01:00.1");
    EXPECT_EQ(openErrc("0000:01:00.0"), std::nullopt);
    host->closeDevice(PciAddress::parse("0000:01:00.0"));
    EXPECT_THROW(host->closeDevice(PciAddress::parse("0000:01:00.0")), Error);
}

TEST_F(SimBinding, DeviceNodesFollowVfioBinding)
{
    EXPECT_FALSE(host->devNodeExists("vfio/vfio"));
    host->modprobe("vfio_pci");
    EXPECT_TRUE(host->devNodeExists("vfio/vfio"));
    EXPECT_FALSE(host->devNodeExists("vfio/1"));
    bindToVfio("0000:01:00.0");
    EXPECT_TRUE(host->devNodeExists("vfio/1"));
    EXPECT_TRUE(host->devNodeExists("vfio/devices/vfio0"));
    EXPECT_THAT(host->list("bus/pci/devices/0000:01:00.0/vfio-dev"),
                Contains("vfio0"));
    bindToVfio("0000:01:00.1");
    EXPECT_TRUE(host->devNodeExists("vfio/devices/vfio1"));
    host->write("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    EXPECT_TRUE(host->devNodeExists("vfio/1")); // 01:00.1 still holds it
    EXPECT_FALSE(host->devNodeExists("vfio/devices/vfio0"));
    host->write("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.1");
    EXPECT_FALSE(host->devNodeExists("vfio/1"));
    EXPECT_FALSE(host->devNodeExists("vfio/devices/vfio1"));
}

TEST_F(SimBinding, WaitDevNodeWaitsOrTimesOut)
{
    using namespace std::chrono_literals;
    // The timeout is the thing under test here: the node never comes.
    EXPECT_FALSE(host->waitDevNode("vfio/vfio", 30ms));
    // The loader creates the node once the wait has begun (no sleep); the
    // hour is the API's argument, not a bound on the test: the wait ends
    // with the node.
    KernelWaits waits;
    std::thread loader([&] {
        waits.waitFor("vfio/vfio");
        secondHost()->modprobe("vfio_pci");
    });
    EXPECT_TRUE(host->waitDevNode("vfio/vfio", 1h));
    loader.join();
}

TEST_F(SimBinding, HotAddProbesAndHotRemoveUnbinds)
{
    host->hotAdd(R"(address = "0000:07:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 7
)");
    EXPECT_EQ(driverOf("0000:07:00.0"), "e1000e");
    EXPECT_THAT(host->list("kernel/iommu_groups"), Contains("7"));
    try
    {
        host->hotAdd("address = \"0000:07:00.0\"\nvendor = 1\ndevice = 1\n"
                     "class = 0\n");
        FAIL() << "hot-add over an existing device succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Busy);
    }
    EXPECT_THROW(host->hotAdd("address = \"0000:08:00.0\"\nvendor = 1\n"
                              "device = 1\nclass = 0\ndriver = \"e1000e\"\n"),
                 Error);
    host->hotRemove(PciAddress::parse("0000:07:00.0"));
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:07:00.0"));
    EXPECT_THROW(host->hotRemove(PciAddress::parse("0000:07:00.0")), Error);
}

TEST_F(SimBinding, RemoveAttributeRemovesTheDevice)
{
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:01:00.1/remove", "x"), EINVAL);
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:01:00.1/remove", "0"), 0);
    EXPECT_TRUE(host->exists("bus/pci/devices/0000:01:00.1"));
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:01:00.1/remove", "1"), 0);
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:01:00.1"));
}

} // namespace
} // namespace vfiod::simtest
