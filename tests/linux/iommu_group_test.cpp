#include "base/error.hpp"
#include "linux/linux_host.hpp"
#include "pci/iommu_group.hpp"
#include "pci/pci_device.hpp"
#include "recording_testbed.hpp"
#include "sysfs_tree.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

PciAddress addr(const char* text)
{
    return PciAddress::parse(text);
}

/** @brief The Error that @p call throws (fails the test if none). */
template <typename Call>
Error errorOf(Call call)
{
    try
    {
        call();
    }
    catch (const Error& e)
    {
        return e;
    }
    ADD_FAILURE() << "no exception";
    return Error(Errc::Failed, "");
}

class PlainGroups : public ::testing::Test
{
  protected:
    LinuxHost host{sharedRecording(plainRecording).roots()};
};

TEST_F(PlainGroups, RecordingHasNoGroupDirectories)
{
    // The reason members come from the iommu_group links.
    EXPECT_FALSE(host.exists("kernel/iommu_groups/13"));
    EXPECT_EQ(host.readLinkName("bus/pci/devices/0000:06:03.0/iommu_group"),
              "13");
}

TEST_F(PlainGroups, GroupBehindThePcieToPciBridge)
{
    EXPECT_THAT(iommuGroupMembers(host, 13),
                ElementsAre(addr("0000:05:00.0"), addr("0000:06:01.0"),
                            addr("0000:06:02.0"), addr("0000:06:03.0")));
}

TEST_F(PlainGroups, MultiFunctionChipsetGroup)
{
    EXPECT_THAT(iommuGroupMembers(host, 8),
                ElementsAre(addr("0000:00:1f.0"), addr("0000:00:1f.2"),
                            addr("0000:00:1f.3")));
}

TEST_F(PlainGroups, SingleDeviceGroupsAndUnknownOnes)
{
    EXPECT_THAT(iommuGroupMembers(host, 10), ElementsAre(addr("0000:02:00.0")));
    EXPECT_THAT(iommuGroupMembers(host, 99), IsEmpty());
    EXPECT_THAT(iommuGroupMembers(host, -1), IsEmpty());
}

TEST_F(PlainGroups, E1000BlocksTheEduDevices)
{
    std::optional<ViabilityBlocker> blocker =
        findViabilityBlocker(host, 13, addr("0000:06:01.0"));
    ASSERT_TRUE(blocker);
    EXPECT_EQ(blocker->address, addr("0000:06:03.0"));
    EXPECT_EQ(blocker->driver, "e1000");

    EXPECT_TRUE(findViabilityBlocker(host, 13, std::nullopt));
    // Everything else in the group is unbound (the bridge too).
    EXPECT_FALSE(findViabilityBlocker(host, 13, addr("0000:06:03.0")));
}

TEST_F(PlainGroups, RequireViableGroupNamesTheBlocker)
{
    PciDevice edu = readPciDevice(host, addr("0000:06:01.0"));
    ASSERT_EQ(edu.iommuGroup, 13);
    Error e =
        errorOf([&] { requireViableGroup(host, edu.address, edu.iommuGroup); });
    EXPECT_EQ(e.code(), Errc::NotViable);
    EXPECT_STREQ(e.what(),
                 "IOMMU group 13 is not viable: 0000:06:03.0 is bound to "
                 "e1000 (a host driver); unbind it or bind it to vfio-pci "
                 "too");
}

TEST_F(PlainGroups, ViableGroups)
{
    // Alone in its group: its own host driver does not count.
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:02:00.0"), 10));
    // Unbound chipset functions.
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:00:1f.2"), 8));
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:06:03.0"), 13));
}

TEST_F(PlainGroups, NoGroupMeansNoIommu)
{
    Error e =
        errorOf([&] { requireViableGroup(host, addr("0000:06:01.0"), -1); });
    EXPECT_EQ(e.code(), Errc::NotSupported);
    EXPECT_THAT(e.what(), HasSubstr("0000:06:01.0"));
    EXPECT_THAT(e.what(), HasSubstr("has no IOMMU group"));
    EXPECT_THAT(e.what(), HasSubstr("intel_iommu=on / amd_iommu=on"));
}

TEST(VfioSriovGroups, VfsHaveTheirOwnGroups)
{
    LinuxHost host(sharedRecording(vfioSriovRecording).roots());
    EXPECT_THAT(iommuGroupMembers(host, 10), ElementsAre(addr("0000:02:00.0")));
    EXPECT_THAT(iommuGroupMembers(host, 14), ElementsAre(addr("0000:04:00.1")));
    EXPECT_THAT(iommuGroupMembers(host, 15), ElementsAre(addr("0000:04:00.2")));
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:02:00.0"), 10));
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:04:00.1"), 14));
}

class BuiltGroups : public ::testing::Test
{
  protected:
    BuiltGroups()
    {
        tree.addDevice({.address = "0000:00:1c.0",
                        .classCode = 0x060400,
                        .headerType = 1,
                        .driver = "pcieport",
                        .iommuGroup = 7});
        tree.addDevice({.address = "0000:01:00.0", .iommuGroup = 7});
        tree.addDevice({.address = "0000:01:00.1", .iommuGroup = 7});
    }

    SysfsTree tree;
    LinuxHost host{tree.roots()};
};

TEST_F(BuiltGroups, DmaManagedDriversKeepTheGroupViable)
{
    for (const char* driver : {"vfio-pci", "mlx5_vfio_pci", "pci-stub"})
    {
        SCOPED_TRACE(driver);
        tree.bindDriver("0000:01:00.1", driver);
        EXPECT_NO_THROW(requireViableGroup(host, addr("0000:01:00.0"), 7));
    }
}

TEST_F(BuiltGroups, AHostDriverBlocks)
{
    tree.bindDriver("0000:01:00.1", "ixgbe");
    Error e =
        errorOf([&] { requireViableGroup(host, addr("0000:01:00.0"), 7); });
    EXPECT_EQ(e.code(), Errc::NotViable);
    EXPECT_THAT(e.what(), HasSubstr("0000:01:00.1 is bound to ixgbe"));

    tree.unbindDriver("0000:01:00.1");
    EXPECT_NO_THROW(requireViableGroup(host, addr("0000:01:00.0"), 7));
}

TEST_F(BuiltGroups, MembersFollowTheLinksNotTheGroupDirectory)
{
    tree.setIommuGroup("0000:01:00.1", 8);
    EXPECT_THAT(iommuGroupMembers(host, 7),
                ElementsAre(addr("0000:00:1c.0"), addr("0000:01:00.0")));
    EXPECT_THAT(iommuGroupMembers(host, 8), ElementsAre(addr("0000:01:00.1")));
    EXPECT_THAT(host.list("kernel/iommu_groups/7/devices"),
                ElementsAre("0000:00:1c.0", "0000:01:00.0"));
}

} // namespace
} // namespace vfiod::test
