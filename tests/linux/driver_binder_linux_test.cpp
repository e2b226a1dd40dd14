// The binding engine against the real Linux backend on sysfs trees. A tree
// has no kernel behind it, so these are the scenarios a tree can express:
// every refusal that must happen before the first write, the modprobe
// step, "a successful write does not prove binding" (drivers_probe on a
// tree binds nothing, so verification must catch it and roll back), the
// unbind timeout (a FIFO blocks like an unbind from vfio-pci with the
// device open) and the /dev/vfio wait.

#include "base/error.hpp"
#include "binding/driver_binder.hpp"
#include "binding/kernel_call.hpp"
#include "linux/linux_host.hpp"
#include "pci/pci_device.hpp"
#include "sysfs_tree.hpp"
#include "test_support.hpp"

#include <sys/syscall.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using vfiod::DriverBinder;
using vfiod::Errc;
using vfiod::Error;
using vfiod::PciAddress;
using vfiod::test::FakeDevice;
using vfiod::test::SysfsTree;

namespace
{

class DriverBinderOnTree : public ::testing::Test
{
  protected:
    DriverBinderOnTree() :
        host(tree.roots()), calls(host), binder(host, calls, timeouts())
    {
        tree.addDevice(FakeDevice{.address = nic,
                                  .driver = "e1000e",
                                  .iommuGroup = 10,
                                  .resetMethods = {"pm", "bus"}});
    }

    static vfiod::BindTimeouts timeouts()
    {
        vfiod::BindTimeouts t;
        t.unbind = 200ms;
        t.probe = 200ms;
        t.devNode = 200ms;
        return t;
    }

    Error bindError(const std::string& address, const std::string& driver = "")
    {
        try
        {
            binder.bindToVfio(PciAddress::parse(address), driver);
        }
        catch (const Error& e)
        {
            return e;
        }
        ADD_FAILURE() << "bind of " << address << " succeeded";
        return Error(Errc::Failed, "");
    }

    static bool contains(const Error& e, const std::string& text)
    {
        return std::string(e.what()).find(text) != std::string::npos;
    }

    /** No step of the sequence touched the device or the bus. */
    void expectUntouched(const std::string& address, const std::string& driver)
    {
        EXPECT_EQ(tree.readAttr(address, "driver_override"), "(null)\n");
        EXPECT_EQ(tree.readFile("bus/pci/drivers_probe"), "");
        if (!driver.empty())
        {
            EXPECT_EQ(tree.readFile("bus/pci/drivers/" + driver + "/unbind"),
                      "");
        }
    }

    const std::string nic = "0000:02:00.0";
    SysfsTree tree;
    vfiod::LinuxHost host;
    vfiod::KernelCalls calls;
    DriverBinder binder;
};

} // namespace

TEST_F(DriverBinderOnTree, RefusesABridgeBeforeAnyWrite)
{
    tree.addDevice(FakeDevice{.address = "0000:00:1c.0",
                              .classCode = 0x060400,
                              .headerType = 1,
                              .driver = "pcieport",
                              .iommuGroup = 3});
    Error e = bindError("0000:00:1c.0");
    EXPECT_EQ(e.code(), Errc::NotSupported);
    EXPECT_TRUE(contains(e, "PCI bridge")) << e.what();
    expectUntouched("0000:00:1c.0", "pcieport");
    EXPECT_TRUE(tree.modprobeLog().empty());
}

TEST_F(DriverBinderOnTree, RefusesAPfWithVfsEnabled)
{
    tree.addDevice(FakeDevice{.address = "0000:04:00.0",
                              .classCode = 0x010802,
                              .driver = "nvme",
                              .iommuGroup = 11,
                              .sriovTotalVfs = 2});
    tree.addDevice(FakeDevice{.address = "0000:04:00.1", .iommuGroup = 14});
    tree.addVirtfn("0000:04:00.0", 0, "0000:04:00.1");
    Error e = bindError("0000:04:00.0");
    EXPECT_EQ(e.code(), Errc::Busy);
    EXPECT_TRUE(contains(e, "1 VFs enabled")) << e.what();
    expectUntouched("0000:04:00.0", "nvme");
}

TEST_F(DriverBinderOnTree, RefusesADeviceWithoutIommuGroup)
{
    tree.addDevice(FakeDevice{.address = "0000:00:05.0"});
    Error e = bindError("0000:00:05.0");
    EXPECT_EQ(e.code(), Errc::NotSupported);
    EXPECT_TRUE(contains(e, "no IOMMU group")) << e.what();
    expectUntouched("0000:00:05.0", "");
}

TEST_F(DriverBinderOnTree, RefusesANonViableGroupNamingTheBlocker)
{
    tree.addDevice(FakeDevice{.address = "0000:06:01.0",
                              .vendorId = 0x1234,
                              .deviceId = 0x11e8,
                              .classCode = 0x00ff00,
                              .iommuGroup = 13});
    tree.addDevice(FakeDevice{.address = "0000:06:03.0",
                              .deviceId = 0x100e,
                              .driver = "e1000",
                              .iommuGroup = 13});
    Error e = bindError("0000:06:01.0");
    EXPECT_EQ(e.code(), Errc::NotViable);
    EXPECT_TRUE(contains(e, "0000:06:03.0")) << e.what();
    EXPECT_TRUE(contains(e, "e1000")) << e.what();
    expectUntouched("0000:06:01.0", "");
    EXPECT_TRUE(tree.modprobeLog().empty());
}

TEST_F(DriverBinderOnTree, ModprobeFailureChangesNothing)
{
    tree.failModprobe("vfio-pci", "modprobe: FATAL: Module vfio-pci not found");
    Error e = bindError(nic);
    EXPECT_EQ(e.code(), Errc::Failed);
    EXPECT_TRUE(contains(e, "vfio-pci")) << e.what();
    expectUntouched(nic, "e1000e");
    EXPECT_EQ(tree.readAttr(nic, "driver"), "");
}

TEST_F(DriverBinderOnTree, UnverifiedBindIsRolledBack)
{
    // vfio-pci is missing: modprobe must load it first. The tree has no
    // kernel, so drivers_probe "succeeds" and binds nothing: exactly the
    // case where only reading the driver link tells the truth.
    Error e = bindError(nic);
    EXPECT_EQ(e.code(), Errc::Failed);
    EXPECT_TRUE(contains(e, "on e1000e after drivers_probe, not on vfio-pci"))
        << e.what();
    EXPECT_TRUE(contains(e, "rolled back to e1000e")) << e.what();

    ASSERT_EQ(tree.modprobeLog().size(), 1u);
    EXPECT_NE(tree.modprobeLog()[0].find("vfio-pci"), std::string::npos);
    // Each step of the sequence was written, in the kernel's terms.
    EXPECT_EQ(tree.readFile("bus/pci/drivers/e1000e/unbind"), nic);
    EXPECT_EQ(tree.readFile("bus/pci/drivers_probe"), nic);
    // The override was restored to "unset" by the rollback.
    EXPECT_EQ(tree.readAttr(nic, "driver_override"), "\n");
}

TEST_F(DriverBinderOnTree, AlreadyOnVfioIsANoOp)
{
    tree.addDevice(FakeDevice{.address = "0000:03:00.0",
                              .driver = "vfio-pci",
                              .driverOverride = "vfio-pci",
                              .iommuGroup = 12});
    tree.createDevNode("vfio/12");
    auto outcome =
        binder.bindToVfio(PciAddress::parse("0000:03:00.0"), "vfio-pci");
    EXPECT_FALSE(outcome.changed);
    EXPECT_EQ(outcome.driver, "vfio-pci");
    EXPECT_EQ(tree.readFile("bus/pci/drivers_probe"), "");
    EXPECT_TRUE(tree.modprobeLog().empty());
}

TEST_F(DriverBinderOnTree, WaitsForTheGroupNode)
{
    tree.addDevice(FakeDevice{.address = "0000:03:00.0",
                              .driver = "vfio-pci",
                              .driverOverride = "vfio-pci",
                              .iommuGroup = 12});
    Error e = bindError("0000:03:00.0", "vfio-pci");
    EXPECT_EQ(e.code(), Errc::TimedOut);
    EXPECT_TRUE(contains(e, "/dev/vfio/12")) << e.what();

    // "udev" creates the node once the binder waits for it (asleep in the
    // poll on its inotify watch), with a node timeout no slow machine
    // reaches: the wait ends with the node, not the clock.
    vfiod::BindTimeouts patient = timeouts();
    patient.devNode = std::chrono::hours(24);
    DriverBinder waiting(host, calls, patient);
    pid_t binderThread = vfiod::test::threadId();
    std::thread udev([&] {
        vfiod::test::waitUntilBlockedIn(binderThread, {SYS_poll, SYS_ppoll});
        tree.createDevNode("vfio/12");
    });
    EXPECT_NO_THROW(
        waiting.bindToVfio(PciAddress::parse("0000:03:00.0"), "vfio-pci"));
    udev.join();
}

TEST_F(DriverBinderOnTree, BlockedUnbindTimesOutAndMarksTheDeviceStuck)
{
    tree.addDevice(FakeDevice{.address = "0000:03:00.0",
                              .driver = "vfio-pci",
                              .driverOverride = "vfio-pci",
                              .iommuGroup = 12});
    tree.addDriver("e1000e");
    tree.makeFifo("bus/pci/drivers/vfio-pci/unbind");
    auto address = PciAddress::parse("0000:03:00.0");

    try
    {
        binder.giveBack(address, std::string("e1000e"));
        FAIL() << "giveBack returned while the unbind blocks";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::TimedOut);
        EXPECT_TRUE(contains(e, "unbind from vfio-pci")) << e.what();
    }
    // The kernel call is still pending: nothing else may start on it.
    try
    {
        binder.bindToVfio(address, "vfio-pci");
        FAIL() << "a stuck device accepted another operation";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Busy);
    }

    // The "VM" closes the device: the unbind completes and the mark goes.
    tree.releaseFifo("bus/pci/drivers/vfio-pci/unbind");
    // Woken when the blocked call returns; the day is the API's argument,
    // not a bound on the test.
    EXPECT_TRUE(calls.waitUntilNotStuck(address, std::chrono::hours(24)));
    EXPECT_NO_THROW(calls.requireNotStuck(address));
    EXPECT_EQ(tree.fifoContents("bus/pci/drivers/vfio-pci/unbind"),
              "0000:03:00.0");
}

TEST_F(DriverBinderOnTree, OriginalDriverThatDoesNotComeBackKeepsVfio)
{
    tree.addDevice(FakeDevice{.address = "0000:03:00.0",
                              .driver = "vfio-pci",
                              .driverOverride = "vfio-pci",
                              .iommuGroup = 12});
    tree.addDriver("e1000e");
    try
    {
        binder.giveBack(PciAddress::parse("0000:03:00.0"),
                        std::string("e1000e"));
        FAIL() << "giveBack claimed success";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_TRUE(contains(e, "not on e1000e")) << e.what();
        EXPECT_TRUE(contains(e, "rolled back to vfio-pci")) << e.what();
    }
    EXPECT_EQ(tree.readAttr("0000:03:00.0", "driver_override"), "vfio-pci");
}

TEST_F(DriverBinderOnTree, ChoosesTheVariantFromModulesAlias)
{
    tree.addDevice(FakeDevice{.address = "0000:81:00.2",
                              .vendorId = 0x15b3,
                              .deviceId = 0x101e,
                              .subsystemVendorId = 0x15b3,
                              .subsystemDeviceId = 0x0001,
                              .iommuGroup = 40});
    tree.setModulesAlias(
        "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n");
    auto device = vfiod::readPciDevice(host, PciAddress::parse("0000:81:00.2"));
    EXPECT_EQ(binder.chooseVfioDriver(device, ""), "mlx5_vfio_pci");
    auto nicDevice = vfiod::readPciDevice(host, PciAddress::parse(nic));
    EXPECT_EQ(binder.chooseVfioDriver(nicDevice, ""), "vfio-pci");
    EXPECT_EQ(binder.chooseVfioDriver(nicDevice, "pds_vfio_pci"),
              "pds_vfio_pci");

    Error e = bindError(nic, "e1000e");
    EXPECT_EQ(e.code(), Errc::InvalidArgument);
    e = bindError(nic, "../../vfio-pci");
    EXPECT_EQ(e.code(), Errc::InvalidArgument);
    expectUntouched(nic, "e1000e");
}
