// What the simulated sysfs shows: attributes printed like the kernel,
// links, directory listings and the errors of reading odd files.

#include "sim_test_util.hpp"

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::Not;

class SimSysfs : public SimFixture
{};

TEST_F(SimSysfs, AttributesArePrintedLikeTheKernel)
{
    const std::string dev = "bus/pci/devices/0000:01:00.0/";
    EXPECT_EQ(read(dev + "vendor"), "0x8086\n");
    EXPECT_EQ(read(dev + "device"), "0x10d3\n");
    EXPECT_EQ(read(dev + "subsystem_vendor"), "0x8086\n");
    EXPECT_EQ(read(dev + "subsystem_device"), "0xa01f\n");
    EXPECT_EQ(read(dev + "class"), "0x020000\n");
    EXPECT_EQ(read(dev + "revision"), "0x02\n");
    EXPECT_EQ(read(dev + "numa_node"), "0\n");
    EXPECT_EQ(read(dev + "driver_override"), "(null)\n");
    EXPECT_EQ(read(dev + "modalias"),
              "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00\n");
    EXPECT_EQ(read(dev + "reset_method"), "flr pm bus\n");
    EXPECT_EQ(read("bus/pci/devices/0000:05:00.0/numa_node"), "-1\n");
}

TEST_F(SimSysfs, SubsystemIdsDefaultToTheDeviceIds)
{
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.1/subsystem_vendor"),
              "0x8086\n");
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.1/subsystem_device"),
              "0x10d3\n");
}

TEST_F(SimSysfs, ConfigSpaceHoldsTheHeader)
{
    std::string config = read("bus/pci/devices/0000:01:00.0/config");
    ASSERT_GE(config.size(), 64u);
    auto byte = [&](size_t i) { return static_cast<uint8_t>(config[i]); };
    EXPECT_EQ(byte(0x00) | byte(0x01) << 8, 0x8086);
    EXPECT_EQ(byte(0x02) | byte(0x03) << 8, 0x10d3);
    EXPECT_EQ(byte(0x08), 0x02);                     // revision
    EXPECT_EQ(byte(0x0b), 0x02);                     // base class
    EXPECT_EQ(byte(0x0e), 0x80);                     // type 0, multi-function
    EXPECT_EQ(byte(0x2c) | byte(0x2d) << 8, 0x8086); // subsystem vendor
    EXPECT_EQ(byte(0x2e) | byte(0x2f) << 8, 0xa01f);
    std::string bridge = read("bus/pci/devices/0000:00:01.0/config");
    EXPECT_EQ(static_cast<uint8_t>(bridge[0x0e]), 0x01);
}

TEST_F(SimSysfs, LinksNameTheirTargets)
{
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.0/driver"),
              "e1000e");
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.0/iommu_group"),
              "1");
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.0"),
              "0000:01:00.0");
    EXPECT_EQ(host->readLinkName("bus/pci/drivers/e1000e/module"), "e1000e");
    EXPECT_EQ(host->readLinkName("bus/pci/drivers/e1000e/0000:01:00.0"),
              "0000:01:00.0");
    EXPECT_EQ(host->readLinkName("module/e1000e/drivers/pci:e1000e"), "e1000e");
    // Not links, or absent.
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.1/driver"),
              std::nullopt);
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:05:00.0/iommu_group"),
              std::nullopt);
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.0/vendor"),
              std::nullopt);
}

TEST_F(SimSysfs, ListsAreSortedAndComplete)
{
    EXPECT_THAT(host->list("bus/pci/devices"),
                ElementsAre("0000:00:01.0", "0000:01:00.0", "0000:01:00.1",
                            "0000:02:00.0", "0000:03:00.0", "0000:04:00.0",
                            "0000:05:00.0", "0000:06:00.0"));
    EXPECT_THAT(host->list("bus/pci/drivers"),
                ElementsAre("e1000e", "i40e", "iavf", "igb", "pcieport"));
    EXPECT_THAT(host->list("bus/pci/drivers/e1000e"),
                ElementsAre("0000:01:00.0", "0000:06:00.0", "bind", "module",
                            "new_id", "remove_id", "unbind"));
    EXPECT_THAT(host->list("kernel/iommu_groups"),
                ElementsAre("0", "1", "2", "3", "4", "6"));
    EXPECT_THAT(host->list("kernel/iommu_groups/1/devices"),
                ElementsAre("0000:01:00.0", "0000:01:00.1"));
    EXPECT_THAT(host->list("module/e1000e/drivers"), ElementsAre("pci:e1000e"));
    EXPECT_THAT(host->list("module"), Not(Contains("vfio_pci")));
    EXPECT_TRUE(host->list("bus/pci/devices/0000:09:00.0").empty());
    EXPECT_TRUE(host->list("bus/pci/devices/0000:01:00.0/vendor").empty());
}

TEST_F(SimSysfs, DeviceDirectoryFollowsTheDeviceKind)
{
    std::vector<std::string> plain = host->list("bus/pci/devices/0000:01:00.0");
    EXPECT_THAT(plain, IsSupersetOf(
                           {"class", "config", "device", "driver",
                            "driver_override", "iommu_group", "modalias",
                            "numa_node", "reset", "reset_method", "revision",
                            "subsystem_device", "subsystem_vendor", "vendor"}));
    EXPECT_THAT(plain, Not(Contains("sriov_numvfs")));
    EXPECT_THAT(plain, Not(Contains("sim_reset_count")));

    // No reset method: neither reset nor reset_method exists.
    std::vector<std::string> noReset =
        host->list("bus/pci/devices/0000:03:00.0");
    EXPECT_THAT(noReset, Not(Contains("reset")));
    EXPECT_THAT(noReset, Not(Contains("reset_method")));
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:03:00.0/reset"));
    EXPECT_EQ(host->read("bus/pci/devices/0000:03:00.0/reset_method"),
              std::nullopt);

    std::vector<std::string> pf = host->list("bus/pci/devices/0000:02:00.0");
    EXPECT_THAT(pf, IsSupersetOf({"sriov_totalvfs", "sriov_numvfs",
                                  "sriov_drivers_autoprobe", "sriov_offset",
                                  "sriov_stride", "sriov_vf_device"}));
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_totalvfs"), "4\n");
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_numvfs"), "0\n");
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_offset"), "16\n");
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_stride"), "1\n");
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_vf_device"), "154c\n");
    EXPECT_EQ(read("bus/pci/devices/0000:02:00.0/sriov_drivers_autoprobe"),
              "1\n");
}

TEST_F(SimSysfs, ExistsCoversEveryKindOfPath)
{
    for (const char* path :
         {"bus/pci/devices",
          "bus/pci/devices/0000:01:00.0",
          "bus/pci/devices/0000:01:00.0/driver",
          "bus/pci/devices/0000:01:00.0/iommu_group",
          "bus/pci/devices/0000:01:00.0/reset",
          "bus/pci/devices/0000:01:00.0/sim_reset_count",
          "bus/pci/devices/0000:01:00.0/driver/unbind",
          "bus/pci/devices/0000:01:00.0/iommu_group/devices/0000:01:00.1",
          "bus/pci/drivers",
          "bus/pci/drivers/e1000e",
          "bus/pci/drivers/e1000e/bind",
          "bus/pci/drivers/e1000e/unbind",
          "bus/pci/drivers/e1000e/new_id",
          "bus/pci/drivers/e1000e/remove_id",
          "bus/pci/drivers_probe",
          "kernel/iommu_groups",
          "kernel/iommu_groups/1",
          "kernel/iommu_groups/1/devices",
          "module/e1000e",
          "module/e1000e/drivers"})
    {
        EXPECT_TRUE(host->exists(path)) << path;
    }
    for (const char* path :
         {"bus/pci/devices/0000:09:00.0", "bus/pci/devices/01:00.0",
          "bus/pci/devices/0000:01:00.1/driver",
          "bus/pci/devices/0000:05:00.0/iommu_group",
          "bus/pci/devices/0000:01:00.0/sriov_numvfs",
          "bus/pci/devices/0000:01:00.0/vendor/x", "bus/pci/drivers/vfio-pci",
          "kernel/iommu_groups/5", "kernel/iommu_groups/01", "module/vfio_pci",
          "bus/pci/devices/../devices", "nonsense"})
    {
        EXPECT_FALSE(host->exists(path)) << path;
    }
}

TEST_F(SimSysfs, ReadingOddFilesFailsLikeTheKernel)
{
    auto readErrno = [&](const std::string& path) {
        try
        {
            host->read(path);
            return 0;
        }
        catch (const std::system_error& e)
        {
            return e.code().value();
        }
    };
    EXPECT_EQ(readErrno("bus/pci/devices/0000:01:00.0/reset"), EACCES);
    EXPECT_EQ(readErrno("bus/pci/drivers/e1000e/bind"), EACCES);
    EXPECT_EQ(readErrno("bus/pci/drivers_probe"), EACCES);
    EXPECT_EQ(readErrno("bus/pci/devices/0000:01:00.0"), EISDIR);
    EXPECT_EQ(read("bus/pci/devices/0000:09:00.0/vendor"), "<absent>");
}

TEST_F(SimSysfs, WritingOddFilesFailsLikeTheKernel)
{
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:01:00.0/vendor", "1"), EACCES);
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:01:00.0", "1"), EISDIR);
    EXPECT_EQ(writeErrno("bus/pci/devices/0000:09:00.0/driver_override", "x"),
              ENOENT);
    EXPECT_EQ(writeErrno("bus/pci/drivers/vfio-pci/bind", "0000:01:00.0"),
              ENOENT);
}

TEST_F(SimSysfs, PathsThroughLinksResolve)
{
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/iommu_group/type"), "DMA\n");
    EXPECT_THAT(host->list("bus/pci/devices/0000:01:00.0/driver"),
                Contains("0000:06:00.0"));
    EXPECT_EQ(read("bus/pci/drivers/e1000e/0000:01:00.0/vendor"), "0x8086\n");
}

TEST_F(SimSysfs, ModulesAliasCoversEveryModule)
{
    std::string alias = host->modulesAlias();
    EXPECT_NE(alias.find("alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"),
              std::string::npos);
    EXPECT_NE(alias.find("alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* "
                         "mlx5_vfio_pci\n"),
              std::string::npos);
    EXPECT_NE(alias.find("alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"),
              std::string::npos);
    EXPECT_NE(alias.find("alias pci:v*d*sv*sd*bc06sc04i* pcieport\n"),
              std::string::npos);
    EXPECT_NE(alias.find("alias pci:v00001AF4d00001041sv*sd*bc*sc*i* "
                         "late_drv\n"),
              std::string::npos);
}

} // namespace
} // namespace vfiod::simtest
