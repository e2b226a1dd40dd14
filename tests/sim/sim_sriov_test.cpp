// sriov_numvfs and the VF autoprobe rule.

#include "sim_test_util.hpp"

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using ::testing::ElementsAre;

class SimSriov : public SimFixture
{
  protected:
    const std::string pf = "bus/pci/devices/0000:02:00.0/";
};

TEST_F(SimSriov, CreatingVfsAddsDevicesGroupsAndLinks)
{
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "2"), 0);
    EXPECT_EQ(read(pf + "sriov_numvfs"), "2\n");
    // PF 02:00.0 + offset 16, stride 1.
    EXPECT_EQ(host->readLinkName(pf + "virtfn0"), "0000:02:02.0");
    EXPECT_EQ(host->readLinkName(pf + "virtfn1"), "0000:02:02.1");
    EXPECT_FALSE(host->exists(pf + "virtfn2"));
    const std::string vf = "bus/pci/devices/0000:02:02.1/";
    EXPECT_EQ(host->readLinkName(vf + "physfn"), "0000:02:00.0");
    EXPECT_EQ(read(vf + "vendor"), "0x8086\n");
    EXPECT_EQ(read(vf + "device"), "0x154c\n");
    EXPECT_EQ(read(vf + "class"), "0x020000\n");
    EXPECT_EQ(read(vf + "reset_method"), "flr\n");
    EXPECT_FALSE(host->exists(vf + "sriov_numvfs"));
    // Each VF in a new group above every existing one (6 is the highest).
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:02:02.0/iommu_group"),
              "7");
    EXPECT_EQ(host->readLinkName(vf + "iommu_group"), "8");
    // Autoprobe bound them to the VF driver.
    EXPECT_EQ(driverOf("0000:02:02.0"), "iavf");
    EXPECT_EQ(driverOf("0000:02:02.1"), "iavf");
}

TEST_F(SimSriov, RemovingVfsUnbindsAndDeletesThem)
{
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "3"), 0);
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "0"), 0);
    EXPECT_EQ(read(pf + "sriov_numvfs"), "0\n");
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:02:02.0"));
    EXPECT_FALSE(host->exists(pf + "virtfn0"));
    EXPECT_THAT(host->list("bus/pci/drivers/iavf"),
                ElementsAre("bind", "module", "new_id", "remove_id", "unbind"));
}

TEST_F(SimSriov, NumVfsErrors)
{
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "abc"), EINVAL);
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "-1"), EINVAL);
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "70000"), EINVAL);
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "5"), ERANGE);
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "2\n"), 0);
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "2"), 0); // same: no-op
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "3"), EBUSY);
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "0"), 0);
    // Without a driver (or one without sriov_configure): ENOENT.
    host->write("bus/pci/drivers/i40e/unbind", "0000:02:00.0");
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "1"), ENOENT);
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "0"), 0); // no change
}

TEST_F(SimSriov, VfioDriversSupportSriov)
{
    bindToVfio("0000:02:00.0");
    EXPECT_EQ(writeErrno(pf + "sriov_numvfs", "1"), 0);
    EXPECT_TRUE(host->exists("bus/pci/devices/0000:02:02.0"));
}

TEST_F(SimSriov, VfsDoNotAutoprobeWhenThePfSaysSo)
{
    EXPECT_EQ(writeErrno(pf + "sriov_drivers_autoprobe", "maybe"), EINVAL);
    ASSERT_EQ(writeErrno(pf + "sriov_drivers_autoprobe", "0"), 0);
    EXPECT_EQ(read(pf + "sriov_drivers_autoprobe"), "0\n");
    ASSERT_EQ(writeErrno(pf + "sriov_numvfs", "2"), 0);
    EXPECT_EQ(driverOf("0000:02:02.0"), "");
    // drivers_probe cannot bind a VF without an override...
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:02:02.0"), 0);
    EXPECT_EQ(driverOf("0000:02:02.0"), "");
    // ...and bind reports the refused probe.
    EXPECT_EQ(writeErrno("bus/pci/drivers/iavf/bind", "0000:02:02.0"), ENODEV);
    // With driver_override the VF may probe.
    host->modprobe("vfio_pci");
    host->write("bus/pci/devices/0000:02:02.0/driver_override", "vfio-pci");
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:02:02.0"), 0);
    EXPECT_EQ(driverOf("0000:02:02.0"), "vfio-pci");
    // Autoprobe back on: the other VF probes normally.
    ASSERT_EQ(writeErrno(pf + "sriov_drivers_autoprobe", "y"), 0);
    EXPECT_EQ(writeErrno("bus/pci/drivers_probe", "0000:02:02.1"), 0);
    EXPECT_EQ(driverOf("0000:02:02.1"), "iavf");
}

TEST_F(SimSriov, VfAddressesMayCrossBuses)
{
    host->hotAdd(R"(address = "0000:10:1f.7"
vendor = 0x8086
device = 0x1572
class = 0x020000
iommu_group = 20
sriov_totalvfs = 2
sriov_vf_device = 0x154c
sriov_offset = 1
sriov_vf_group = "pf"
)");
    ASSERT_EQ(driverOf("0000:10:1f.7"), "i40e");
    ASSERT_EQ(writeErrno("bus/pci/devices/0000:10:1f.7/sriov_numvfs", "2"), 0);
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:10:1f.7/virtfn0"),
              "0000:11:00.0");
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:11:00.1/iommu_group"),
              "20");
}

} // namespace
} // namespace vfiod::simtest
