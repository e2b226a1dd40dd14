// The host description file: the shipped one loads, and every kind of
// mistake is reported as FILE:LINE:COL.

#include "base/error.hpp"
#include "sim/sim_host_file.hpp"
#include "sim_test_util.hpp"

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using ::testing::HasSubstr;
using ::testing::StartsWith;

const char* const minimalModules = R"([[module]]
name = "e1000e"
drivers = ["e1000e"]
)";

/** @brief The error message a host text gives, "" when it loads. */
std::string errorOf(const std::string& text)
{
    try
    {
        sim::parseHostText(text, "host.toml");
        return "";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
        return e.what();
    }
}

TEST(SimHostFile, ShippedHostLoads)
{
    std::string root = vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT");
    TempDir dir;
    SimHost host(root + "/conf/sim-host.toml", dir.path() + "/state");
    auto driver = [&](const std::string& address) {
        return host.readLinkName("bus/pci/devices/" + address + "/driver")
            .value_or("");
    };
    auto group = [&](const std::string& address) {
        return host.readLinkName("bus/pci/devices/" + address + "/iommu_group")
            .value_or("");
    };
    EXPECT_EQ(driver("0000:01:00.0"), "nouveau");
    EXPECT_EQ(driver("0000:01:00.1"), "snd_hda_intel");
    EXPECT_EQ(group("0000:01:00.0"), group("0000:01:00.1"));
    EXPECT_EQ(driver("0000:02:00.0"), "nvme");
    EXPECT_EQ(driver("0000:03:00.0"), "i40e");
    EXPECT_EQ(driver("0000:00:01.0"), "pcieport");
    EXPECT_EQ(driver("0000:06:00.0"), "");
    EXPECT_EQ(driver("0000:06:00.1"), "e1000e");
    EXPECT_EQ(group("0000:06:00.0"), group("0000:06:00.1"));
    EXPECT_FALSE(host.exists("bus/pci/drivers/vfio-pci"));
    EXPECT_NE(host.modulesAlias().find("vfio_pci:v000015B3d0000101E"),
              std::string::npos);

    // The NIC's VFs: own groups, iavf on the host.
    host.write("bus/pci/devices/0000:03:00.0/sriov_numvfs", "8");
    EXPECT_EQ(driver("0000:03:02.7"), "iavf");
    EXPECT_NE(group("0000:03:02.0"), group("0000:03:02.1"));
    // The engine's path to vfio works: modprobe, override, unbind, probe.
    host.modprobe("vfio_pci");
    host.write("bus/pci/devices/0000:03:02.0/driver_override", "vfio-pci");
    host.write("bus/pci/drivers/iavf/unbind", "0000:03:02.0");
    host.write("bus/pci/drivers_probe", "0000:03:02.0");
    EXPECT_EQ(driver("0000:03:02.0"), "vfio-pci");
    EXPECT_TRUE(host.waitDevNode("vfio/" + group("0000:03:02.0"),
                                 std::chrono::milliseconds(100)));
}

TEST(SimHostFile, SyntaxError)
{
    EXPECT_THAT(errorOf("[host]\nkernel_release = = 1\n"),
                StartsWith("host.toml:2:"));
}

TEST(SimHostFile, UnknownKeys)
{
    EXPECT_EQ(
        errorOf("[host]\nkernel = \"x\"\n"),
        "host.toml:2:1: unknown key \"host.kernel\" (known: kernel_release)");
    EXPECT_THAT(errorOf("[[device]]\naddress = \"0000:01:00.0\"\nvendor = 1\n"
                        "device = 1\nclass = 0\n  colour = 3\n"),
                StartsWith("host.toml:6:3: unknown key \"device.colour\" "
                           "(known: address, class, device, driver, "));
    EXPECT_THAT(errorOf("[machine]\n"), StartsWith("host.toml:1:"));
}

TEST(SimHostFile, WrongTypes)
{
    EXPECT_EQ(
        errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                "vendor = \"8086\"\n"),
        "host.toml:3:10: \"device.vendor\" must be an integer, not a string");
    EXPECT_THAT(
        errorOf(std::string(minimalModules) + "loaded = \"yes\"\n"),
        AllOf(StartsWith("host.toml:4:10: "),
              HasSubstr("\"module.loaded\" must be a boolean, not a string")));
    EXPECT_THAT(errorOf("[[module]]\nname = \"m\"\ndrivers = \"m\"\n"),
                StartsWith("host.toml:3:11: "));
    EXPECT_THAT(errorOf("[[module]]\nname = \"m\"\ndrivers = [1]\n"),
                StartsWith("host.toml:3:12: "));
    EXPECT_THAT(errorOf("device = 3\n"), StartsWith("host.toml:1:10: "));
}

TEST(SimHostFile, OutOfRangeIds)
{
    EXPECT_THAT(
        errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                "vendor = 0x10000\ndevice = 1\nclass = 0\n"),
        AllOf(StartsWith("host.toml:3:10: "), HasSubstr("out of range")));
    EXPECT_THAT(errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0x1000000\n"),
                StartsWith("host.toml:5:9: "));
    EXPECT_THAT(errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0\n"
                        "header_type = 3\n"),
                StartsWith("host.toml:6:15: "));
    EXPECT_THAT(errorOf(std::string(minimalModules) +
                        "[[driver]]\nname = \"e1000e\"\nids = [\"8086\"]\n"),
                AllOf(StartsWith("host.toml:6:8: "), HasSubstr("bad id")));
}

TEST(SimHostFile, DuplicateAddresses)
{
    std::string device = "[[device]]\naddress = \"0000:01:00.0\"\n"
                         "vendor = 1\ndevice = 1\nclass = 0\n";
    EXPECT_EQ(errorOf(device + device),
              "host.toml:7:11: duplicate device address 0000:01:00.0");
}

TEST(SimHostFile, BadAddress)
{
    EXPECT_THAT(errorOf("[[device]]\naddress = \"0000:01:00.9\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0\n"),
                AllOf(StartsWith("host.toml:2:11: "),
                      HasSubstr("invalid PCI address")));
}

TEST(SimHostFile, DriverNotProvidedByAnyModule)
{
    EXPECT_THAT(
        errorOf(std::string(minimalModules) + "[[driver]]\nname = \"igb\"\n"),
        AllOf(StartsWith("host.toml:5:8: "),
              HasSubstr("not provided by any module")));
    EXPECT_THAT(errorOf(std::string(minimalModules) +
                        "[[device]]\naddress = \"0000:01:00.0\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0\n"
                        "driver = \"igb\"\n"),
                AllOf(StartsWith("host.toml:9:10: "),
                      HasSubstr("not registered by any loaded module")));
    EXPECT_THAT(errorOf("[[module]]\nname = \"e1000e\"\ndrivers = "
                        "[\"e1000e\"]\nloaded = false\n"
                        "[[device]]\naddress = \"0000:01:00.0\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0\n"
                        "driver = \"e1000e\"\n"),
                StartsWith("host.toml:10:10: "));
}

TEST(SimHostFile, OtherMistakes)
{
    // A missing required key points at the table.
    EXPECT_EQ(errorOf("[[device]]\naddress = \"0000:01:00.0\"\nvendor = 1\n"
                      "class = 0\n"),
              "host.toml:1:1: missing required key \"device.device\"");
    EXPECT_THAT(
        errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                "vendor = 1\ndevice = 1\nclass = 0\n"
                "reset_methods = [\"flr\", \"kick\"]\n"),
        StartsWith("host.toml:6:25: \"device.reset_methods\" must be one "
                   "of device_specific, acpi, "));
    EXPECT_THAT(errorOf("[[module]]\nname = \"a\"\ndepends = [\"b\"]\n"),
                StartsWith("host.toml:3:12: "));
    EXPECT_THAT(errorOf(std::string(minimalModules) + minimalModules),
                HasSubstr("described twice"));
    // VFs that would land on another device.
    EXPECT_THAT(
        errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                "vendor = 1\ndevice = 1\nclass = 0\n"
                "sriov_totalvfs = 2\nsriov_vf_device = 2\n"
                "[[device]]\naddress = \"0000:01:00.2\"\n"
                "vendor = 1\ndevice = 1\nclass = 0\n"),
        AllOf(StartsWith("host.toml:6:18: "), HasSubstr("0000:01:00.2")));
    EXPECT_THAT(errorOf("[[device]]\naddress = \"0000:01:00.0\"\n"
                        "vendor = 1\ndevice = 1\nclass = 0\n"
                        "sriov_offset = 2\n"),
                HasSubstr("needs sriov_totalvfs"));
}

TEST(SimHostFile, MissingFileNamesIt)
{
    EXPECT_THROW(sim::loadHostFile("/nonexistent/host.toml"), Error);
    TempDir dir;
    try
    {
        SimHost host(dir.write("bad.toml", "[host]\nx = 1\n"),
                     dir.path() + "/state");
        FAIL() << "a bad host file loaded";
    }
    catch (const Error& e)
    {
        EXPECT_THAT(e.what(), HasSubstr("bad.toml:2:1: "));
    }
}

TEST(SimHostFile, HotAddWithHeaderForm)
{
    TempDir dir;
    SimHost host(dir.write("host.toml", minimalModules), dir.path() + "/s");
    host.hotAdd("[[device]]\naddress = \"0000:05:00.0\"\nvendor = 1\n"
                "device = 2\nclass = 0\n");
    EXPECT_TRUE(host.exists("bus/pci/devices/0000:05:00.0"));
    try
    {
        host.hotAdd("address = \"0000:06:00.0\"\nvendor = 1\n");
        FAIL() << "incomplete device accepted";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
        EXPECT_THAT(e.what(), StartsWith("hot-add:"));
    }
}

} // namespace
} // namespace vfiod::simtest
