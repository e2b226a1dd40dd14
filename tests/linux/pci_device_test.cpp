#include "base/error.hpp"
#include "linux/linux_host.hpp"
#include "pci/pci_device.hpp"
#include "recording_testbed.hpp"
#include "sysfs_tree.hpp"

#include <algorithm>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

PciAddress addr(const char* text)
{
    return PciAddress::parse(text);
}

// ---------------------------------------------------------------------
// The recording of a real kernel's sysfs, as booted.

class PlainRecording : public ::testing::Test
{
  protected:
    PciDevice read(const char* address)
    {
        return readPciDevice(host, addr(address));
    }

    const RecordingTestbed& bed = sharedRecording(plainRecording);
    LinuxHost host{bed.roots()};
};

TEST_F(PlainRecording, TestbedHasTheBusView)
{
    // umockdev creates bus/pci/devices itself; no links need adding.
    EXPECT_TRUE(std::filesystem::is_symlink(bed.sysDir() +
                                            "/bus/pci/devices/0000:02:00.0"));
    EXPECT_TRUE(host.exists("bus/pci/devices/0000:06:03.0/vendor"));
}

TEST_F(PlainRecording, ListsEveryRecordedDeviceSorted)
{
    std::vector<PciAddress> all = listPciDevices(host);
    ASSERT_THAT(all, SizeIs(19));
    EXPECT_EQ(all.front(), addr("0000:00:00.0"));
    EXPECT_EQ(all.back(), addr("0000:06:03.0"));
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
    EXPECT_THAT(all, Contains(addr("0000:00:1f.3")));
}

TEST_F(PlainRecording, E1000eOnItsHostDriver)
{
    PciDevice nic = read("0000:02:00.0");
    EXPECT_EQ(nic.address, addr("0000:02:00.0"));
    EXPECT_EQ(nic.vendorId, 0x8086);
    EXPECT_EQ(nic.deviceId, 0x10d3);
    EXPECT_EQ(nic.subsystemVendorId, 0x8086);
    EXPECT_EQ(nic.subsystemDeviceId, 0x0000);
    EXPECT_EQ(nic.classCode, 0x020000u);
    EXPECT_EQ(nic.revision, 0x00);
    EXPECT_EQ(nic.headerType, 0);
    EXPECT_FALSE(nic.isBridge());
    EXPECT_EQ(nic.driver, "e1000e");
    EXPECT_EQ(nic.driverOverride, "");
    EXPECT_EQ(nic.iommuGroup, 10);
    EXPECT_EQ(nic.numaNode, -1);
    EXPECT_EQ(nic.modalias,
              "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00");
    EXPECT_THAT(nic.resetMethods, ElementsAre("pm", "bus"));
    // umockdev-record skips write-only attributes, so "reset" is absent.
    EXPECT_FALSE(nic.hasResetFile);
    EXPECT_FALSE(nic.sriovCapable);
    EXPECT_FALSE(nic.isVirtfn());
    EXPECT_THAT(nic.virtfns, IsEmpty());
}

TEST_F(PlainRecording, ResetMethodsAsRecorded)
{
    EXPECT_THAT(read("0000:03:00.0").resetMethods,
                ElementsAre("flr", "pm", "bus"));
    EXPECT_THAT(read("0000:04:00.0").resetMethods, ElementsAre("flr", "bus"));
    EXPECT_THAT(read("0000:01:00.0").resetMethods, ElementsAre("bus"));
    EXPECT_THAT(read("0000:06:01.0").resetMethods, ElementsAre("bus"));
    EXPECT_THAT(read("0000:06:02.0").resetMethods, IsEmpty());
}

TEST_F(PlainRecording, EduOnTheRootBusIsUnboundWithoutResetMethod)
{
    PciDevice edu = read("0000:00:05.0");
    EXPECT_EQ(edu.vendorId, 0x1234);
    EXPECT_EQ(edu.deviceId, 0x11e8);
    EXPECT_EQ(edu.classCode, 0x00ff00u);
    EXPECT_EQ(edu.revision, 0x10);
    EXPECT_EQ(edu.driver, "");
    EXPECT_EQ(edu.iommuGroup, 2);
    EXPECT_THAT(edu.resetMethods, IsEmpty());
    EXPECT_FALSE(edu.hasResetFile);
}

TEST_F(PlainRecording, ConventionalE1000BehindTheBridge)
{
    PciDevice e1000 = read("0000:06:03.0");
    EXPECT_EQ(e1000.vendorId, 0x8086);
    EXPECT_EQ(e1000.deviceId, 0x100e);
    EXPECT_EQ(e1000.subsystemVendorId, 0x1af4);
    EXPECT_EQ(e1000.subsystemDeviceId, 0x1100);
    EXPECT_EQ(e1000.revision, 0x03);
    EXPECT_EQ(e1000.driver, "e1000");
    EXPECT_EQ(e1000.iommuGroup, 13);
}

TEST_F(PlainRecording, NvmePfBeforeVfsAreEnabled)
{
    PciDevice nvme = read("0000:04:00.0");
    EXPECT_EQ(nvme.vendorId, 0x1b36);
    EXPECT_EQ(nvme.deviceId, 0x0010);
    EXPECT_EQ(nvme.classCode, 0x010802u);
    EXPECT_EQ(nvme.driver, "nvme");
    EXPECT_EQ(nvme.iommuGroup, 12);
    EXPECT_TRUE(nvme.sriovCapable);
    EXPECT_EQ(nvme.sriovTotalVfs, 2u);
    EXPECT_EQ(nvme.sriovNumVfs, 0u);
    EXPECT_TRUE(nvme.sriovDriversAutoprobe);
    EXPECT_THAT(nvme.virtfns, IsEmpty());
}

TEST_F(PlainRecording, RootPortsAndThePciBridgeAreBridges)
{
    for (const char* port : {"0000:00:10.0", "0000:00:11.0", "0000:00:12.0",
                             "0000:00:13.0", "0000:00:14.0"})
    {
        SCOPED_TRACE(port);
        PciDevice device = read(port);
        EXPECT_EQ(device.headerType, 1);
        EXPECT_TRUE(device.isBridge());
        EXPECT_EQ(device.classCode, 0x060400u);
        EXPECT_EQ(device.driver, "pcieport");
    }

    PciDevice bridge = read("0000:05:00.0");
    EXPECT_EQ(bridge.vendorId, 0x1b36);
    EXPECT_EQ(bridge.deviceId, 0x000e);
    EXPECT_EQ(bridge.headerType, 1);
    EXPECT_TRUE(bridge.isBridge());
    EXPECT_EQ(bridge.driver, "");
    EXPECT_EQ(bridge.iommuGroup, 13);
}

TEST_F(PlainRecording, HostAndIsaBridgesAreEndpointHeaders)
{
    // Class 0x06xxxx but header type 0; the ISA bridge's config byte 0x0e
    // is 0x80, the multi-function bit, which must not count.
    PciDevice host0 = read("0000:00:00.0");
    EXPECT_EQ(host0.classCode, 0x060000u);
    EXPECT_EQ(host0.headerType, 0);
    PciDevice isa = read("0000:00:1f.0");
    EXPECT_EQ(isa.classCode, 0x060100u);
    EXPECT_EQ(isa.headerType, 0);
    EXPECT_FALSE(isa.isBridge());
    EXPECT_EQ(isa.revision, 0x02);
}

TEST_F(PlainRecording, MissingDeviceIsNotFound)
{
    try
    {
        read("0000:07:00.0");
        ADD_FAILURE() << "no exception";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
        EXPECT_STREQ(e.what(), "no PCI device 0000:07:00.0");
    }
}

// ---------------------------------------------------------------------
// After binding the e1000e to vfio-pci and enabling two NVMe VFs.

class VfioSriovRecording : public ::testing::Test
{
  protected:
    PciDevice read(const char* address)
    {
        return readPciDevice(sriovHost, addr(address));
    }

    LinuxHost sriovHost{sharedRecording(vfioSriovRecording).roots()};
};

TEST_F(VfioSriovRecording, E1000eOnVfioPci)
{
    PciDevice nic = read("0000:02:00.0");
    EXPECT_EQ(nic.driver, "vfio-pci");
    EXPECT_EQ(nic.driverOverride, "vfio-pci");
    EXPECT_TRUE(isVfioDriver(nic.driver));
    EXPECT_EQ(nic.iommuGroup, 10);
}

TEST_F(VfioSriovRecording, PfListsItsVfsInOrder)
{
    EXPECT_THAT(listPciDevices(sriovHost), SizeIs(21));
    PciDevice pf = read("0000:04:00.0");
    EXPECT_TRUE(pf.sriovCapable);
    EXPECT_EQ(pf.sriovNumVfs, 2u);
    EXPECT_EQ(pf.sriovTotalVfs, 2u);
    EXPECT_FALSE(pf.isVirtfn());
    EXPECT_THAT(pf.virtfns,
                ElementsAre(addr("0000:04:00.1"), addr("0000:04:00.2")));
}

TEST_F(VfioSriovRecording, VfsKnowTheirPfAndIndex)
{
    PciDevice vf0 = read("0000:04:00.1");
    EXPECT_TRUE(vf0.isVirtfn());
    EXPECT_EQ(vf0.physfn, addr("0000:04:00.0"));
    EXPECT_EQ(vf0.vfIndex, 0u);
    EXPECT_EQ(vf0.iommuGroup, 14);
    EXPECT_EQ(vf0.driver, "");
    EXPECT_THAT(vf0.resetMethods, ElementsAre("flr"));
    // A VF's config space reads 0xffff for its ids, but sysfs has them.
    EXPECT_EQ(vf0.vendorId, 0x1b36);
    EXPECT_EQ(vf0.deviceId, 0x0010);
    EXPECT_EQ(vf0.headerType, 0);
    EXPECT_FALSE(vf0.sriovCapable);

    PciDevice vf1 = read("0000:04:00.2");
    EXPECT_EQ(vf1.physfn, addr("0000:04:00.0"));
    EXPECT_EQ(vf1.vfIndex, 1u);
    EXPECT_EQ(vf1.iommuGroup, 15);
}

// ---------------------------------------------------------------------
// Trees built by SysfsTree, for what the recordings do not show.

class BuiltTree : public ::testing::Test
{
  protected:
    PciDevice read(const char* address)
    {
        return readPciDevice(host, addr(address));
    }

    void expectMalformed(const char* attr, const std::string& value)
    {
        SCOPED_TRACE(std::string(attr) + "=" + value);
        tree.addDevice({.address = "0000:03:00.0"});
        tree.writeAttr("0000:03:00.0", attr, value);
        try
        {
            read("0000:03:00.0");
            ADD_FAILURE() << "no exception";
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::Failed);
            EXPECT_THAT(e.what(), HasSubstr(attr));
            EXPECT_THAT(e.what(), HasSubstr("0000:03:00.0"));
        }
    }

    SysfsTree tree;
    LinuxHost host{tree.roots()};
};

TEST_F(BuiltTree, ReadsWhatTheTreeHolds)
{
    tree.addDevice({.address = "0000:03:00.0",
                    .vendorId = 0x15b3,
                    .deviceId = 0x101e,
                    .subsystemVendorId = 0x15b3,
                    .subsystemDeviceId = 0x0042,
                    .classCode = 0x020000,
                    .revision = 0x01,
                    .driver = "mlx5_core",
                    .driverOverride = "mlx5_vfio_pci",
                    .iommuGroup = 40,
                    .numaNode = 1,
                    .resetMethods = {"flr", "bus"}});
    PciDevice d = read("0000:03:00.0");
    EXPECT_EQ(d.vendorId, 0x15b3);
    EXPECT_EQ(d.deviceId, 0x101e);
    EXPECT_EQ(d.subsystemDeviceId, 0x0042);
    EXPECT_EQ(d.revision, 0x01);
    EXPECT_EQ(d.driver, "mlx5_core");
    EXPECT_EQ(d.driverOverride, "mlx5_vfio_pci");
    EXPECT_EQ(d.iommuGroup, 40);
    EXPECT_EQ(d.numaNode, 1);
    EXPECT_EQ(d.modalias,
              "pci:v000015B3d0000101Esv000015B3sd00000042bc02sc00i00");
    EXPECT_THAT(d.resetMethods, ElementsAre("flr", "bus"));
    EXPECT_TRUE(d.hasResetFile);
}

TEST_F(BuiltTree, NoGroupNoResetNoDriver)
{
    tree.addDevice({.address = "0000:03:00.0"});
    PciDevice d = read("0000:03:00.0");
    EXPECT_EQ(d.iommuGroup, -1);
    EXPECT_EQ(d.driver, "");
    EXPECT_THAT(d.resetMethods, IsEmpty());
    EXPECT_FALSE(d.hasResetFile);
}

TEST_F(BuiltTree, HeaderTypeFromConfigSpace)
{
    tree.addDevice({.address = "0000:00:1c.0",
                    .classCode = 0x060400,
                    .headerType = 1,
                    .multiFunction = true});
    tree.addDevice(
        {.address = "0000:00:1e.0", .classCode = 0x060700, .headerType = 2});
    // Config space wins over the class code.
    tree.addDevice(
        {.address = "0000:00:1f.0", .classCode = 0x060400, .headerType = 0});
    EXPECT_EQ(read("0000:00:1c.0").headerType, 1);
    EXPECT_EQ(read("0000:00:1e.0").headerType, 2);
    EXPECT_EQ(read("0000:00:1f.0").headerType, 0);
}

TEST_F(BuiltTree, HeaderTypeFromClassWhenConfigIsShortOrMissing)
{
    tree.addDevice(
        {.address = "0000:00:01.0", .classCode = 0x060400, .configSize = 8});
    tree.addDevice(
        {.address = "0000:00:02.0", .classCode = 0x060900, .configSize = 0});
    tree.addDevice(
        {.address = "0000:00:03.0", .classCode = 0x060700, .configSize = 0x0e});
    tree.addDevice(
        {.address = "0000:00:04.0", .classCode = 0x020000, .configSize = 0});
    EXPECT_EQ(read("0000:00:01.0").headerType, 1);
    EXPECT_EQ(read("0000:00:02.0").headerType, 1);
    EXPECT_EQ(read("0000:00:03.0").headerType, 2);
    EXPECT_EQ(read("0000:00:04.0").headerType, 0);
}

TEST_F(BuiltTree, HeaderTypeFromClassWhenConfigIsUnreadable)
{
    tree.addDevice(
        {.address = "0000:00:01.0", .classCode = 0x060400, .headerType = 0});
    // A directory in its place makes read(2) fail with EISDIR.
    tree.remove(tree.devicePath("0000:00:01.0") + "/config");
    std::filesystem::create_directory(
        tree.sysDir() / tree.devicePath("0000:00:01.0") / "config");
    EXPECT_EQ(read("0000:00:01.0").headerType, 1);
}

TEST_F(BuiltTree, MalformedHexAttributesFail)
{
    expectMalformed("vendor", "8086\n");
    expectMalformed("vendor", "0x\n");
    expectMalformed("vendor", "0x18086\n");
    expectMalformed("device", "0xzz\n");
    expectMalformed("device", "0x-1\n");
    expectMalformed("class", "0x1020000\n");
    expectMalformed("revision", "0x100\n");
    expectMalformed("subsystem_vendor", " \n");
    expectMalformed("numa_node", "one\n");
}

TEST_F(BuiltTree, MissingIdAttributeFails)
{
    tree.addDevice({.address = "0000:03:00.0"});
    tree.remove(tree.devicePath("0000:03:00.0") + "/class");
    try
    {
        read("0000:03:00.0");
        ADD_FAILURE() << "no exception";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_THAT(e.what(), HasSubstr("class"));
        EXPECT_THAT(e.what(), HasSubstr("0000:03:00.0"));
    }
}

TEST_F(BuiltTree, VirtfnsAreOrderedNumerically)
{
    tree.addDevice({.address = "0000:03:00.0", .sriovTotalVfs = 16});
    std::vector<PciAddress> expected;
    for (unsigned i = 0; i < 12; ++i)
    {
        PciAddress vf = addr("0000:03:00.0");
        vf.device = static_cast<uint8_t>((i + 1) / 8);
        vf.function = static_cast<uint8_t>((i + 1) % 8);
        tree.addDevice({.address = vf.str()});
        tree.addVirtfn("0000:03:00.0", i, vf.str());
        expected.push_back(vf);
    }
    tree.writeAttr("0000:03:00.0", "sriov_drivers_autoprobe", "0\n");

    PciDevice pf = read("0000:03:00.0");
    EXPECT_EQ(pf.sriovNumVfs, 12u);
    EXPECT_EQ(pf.sriovTotalVfs, 16u);
    EXPECT_FALSE(pf.sriovDriversAutoprobe);
    // virtfn10 and virtfn11 sort before virtfn2 by name, not by index.
    EXPECT_EQ(pf.virtfns, expected);

    PciDevice vf11 = read("0000:03:01.4");
    EXPECT_EQ(vf11.physfn, addr("0000:03:00.0"));
    EXPECT_EQ(vf11.vfIndex, 11u);
}

TEST_F(BuiltTree, ListSkipsWhatIsNotACanonicalAddress)
{
    tree.addDevice({.address = "0000:03:00.0"});
    tree.addDevice({.address = "10000:e1:00.0"});
    tree.writeFile("bus/pci/devices/junk", "");
    tree.symlink("bus/pci/devices/03:00.1", "../../../devices/x");
    EXPECT_THAT(listPciDevices(host),
                ElementsAre(addr("0000:03:00.0"), addr("10000:e1:00.0")));
    EXPECT_EQ(read("10000:e1:00.0").vendorId, 0x8086);
}

TEST_F(BuiltTree, PhysicalSlotFromTheSlotsDirectory)
{
    tree.addDevice({.address = "0000:03:00.0"});
    tree.addDevice({.address = "0000:03:00.1"});
    tree.addDevice({.address = "0000:03:01.0"});
    tree.addDevice({.address = "0000:05:00.0"});
    tree.addDevice({.address = "0001:05:00.0"});
    tree.addDevice({.address = "0000:06:00.0"});
    // One device number on bus 03; a whole bus (a PCIe port's slot).
    tree.addSlot("4", "0000:03:00");
    tree.addSlot("7-1", "0000:05");
    tree.addSlot("odd", "not an address");
    tree.writeFile("bus/pci/slots/empty/power", "1\n");

    EXPECT_EQ(read("0000:03:00.0").physicalSlot, "4");
    EXPECT_EQ(read("0000:03:00.1").physicalSlot, "4");
    EXPECT_EQ(read("0000:03:01.0").physicalSlot, "");
    EXPECT_EQ(read("0000:05:00.0").physicalSlot, "7-1");
    EXPECT_EQ(read("0001:05:00.0").physicalSlot, "");
    EXPECT_EQ(read("0000:06:00.0").physicalSlot, "");
}

TEST_F(BuiltTree, NoSlotsDirectoryMeansNoSlot)
{
    tree.addDevice({.address = "0000:03:00.0"});
    EXPECT_EQ(read("0000:03:00.0").physicalSlot, "");
}

TEST(DriverKinds, VfioDrivers)
{
    EXPECT_TRUE(isVfioDriver("vfio-pci"));
    EXPECT_TRUE(isVfioDriver("mlx5_vfio_pci"));
    EXPECT_TRUE(isVfioDriver("hisi_acc_vfio_pci"));
    EXPECT_TRUE(isVfioDriver("foo-vfio-pci"));
    EXPECT_FALSE(isVfioDriver("vfio_pci_core"));
    EXPECT_FALSE(isVfioDriver("vfio"));
    EXPECT_FALSE(isVfioDriver(""));
    EXPECT_FALSE(isVfioDriver("e1000e"));
}

TEST(DriverKinds, GroupViability)
{
    EXPECT_TRUE(keepsGroupViable(""));
    EXPECT_TRUE(keepsGroupViable("vfio-pci"));
    EXPECT_TRUE(keepsGroupViable("nvgrace_gpu_vfio_pci"));
    EXPECT_TRUE(keepsGroupViable("pci-stub"));
    EXPECT_TRUE(keepsGroupViable("pcieport"));
    EXPECT_FALSE(keepsGroupViable("e1000"));
    EXPECT_FALSE(keepsGroupViable("nvme"));
    EXPECT_FALSE(keepsGroupViable("pci_stub"));
}

} // namespace
} // namespace vfiod::test
