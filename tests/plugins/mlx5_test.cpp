// The mlx5 plugin's devlink steps on a sysfs test tree, with a fake
// devlink that records its arguments and answers like iproute2's.
extern "C"
{
#include "mlx5_helpers.h"
}

#include "base/error.hpp"
#include "linux/linux_host.hpp"
#include "pci/pci_device.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin_test_util.hpp"
#include "sysfs_tree.hpp"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

using plugintest::LogCapture;
using plugintest::requiredEnv;
using test::FakeDevice;
using test::SysfsTree;

const char* const legacyOutput =
    "pci/0000:08:00.0/65535: type eth netdev p0 flavour physical port 0 "
    "splittable false\n";
const char* const switchdevOutput =
    "pci/0000:08:00.0/65535: type eth netdev p0 flavour physical port 0 "
    "splittable false\n"
    "pci/0000:08:00.0/131072: type eth netdev pf0hpf flavour pcipf "
    "controller 0 pfnum 0 external false splittable false\n"
    "pci/0000:08:00.0/131073: type eth netdev pf0vf0 flavour pcivf "
    "controller 0 pfnum 0 vfnum 0 external false splittable false\n"
    "pci/0000:08:00.0/131074: type eth netdev pf0vf1 flavour pcivf "
    "controller 0 pfnum 0 vfnum 1 external false splittable false\n"
    "  function:\n    hw_addr 00:00:00:00:00:00 roce enable migratable "
    "disable\n";

TEST(Mlx5Helpers, FindsTheVfPortInDevlinkOutput)
{
    EXPECT_EQ(mlx5_find_vf_port(switchdevOutput, "0000:08:00.0", 0), 131073);
    EXPECT_EQ(mlx5_find_vf_port(switchdevOutput, "0000:08:00.0", 1), 131074);
    EXPECT_EQ(mlx5_find_vf_port(switchdevOutput, "0000:08:00.0", 2), -1);
    EXPECT_EQ(mlx5_find_vf_port(switchdevOutput, "0000:09:00.0", 0), -1);
    EXPECT_EQ(mlx5_find_vf_port(legacyOutput, "0000:08:00.0", 0), -1);
    // vfnum 1 must not match vfnum 10, nor an external host's VF.
    EXPECT_EQ(mlx5_find_vf_port("pci/0000:08:00.0/7: flavour pcivf vfnum 10\n"
                                "pci/0000:08:00.0/8: flavour pcivf vfnum 1 "
                                "external true\n",
                                "0000:08:00.0", 1),
              -1);
}

class Mlx5PluginTest : public ::testing::Test
{
  protected:
    SysfsTree tree;
    LogCapture log;
    std::string devlinkLog = (tree.root() / "devlink.log").string();
    std::string eswitchFlag = (tree.root() / "switchdev").string();

    void SetUp() override
    {
        FakeDevice pf;
        pf.address = "0000:08:00.0";
        pf.vendorId = 0x15b3;
        pf.deviceId = 0x101d;
        pf.driver = "mlx5_core";
        pf.iommuGroup = 10;
        pf.sriovTotalVfs = 4;
        tree.addDevice(pf);
        for (unsigned i = 0; i < 2; ++i)
        {
            FakeDevice vf;
            vf.address = "0000:08:00." + std::to_string(2 + i);
            vf.vendorId = 0x15b3;
            vf.deviceId = 0x101e;
            vf.driver = "mlx5_core";
            vf.iommuGroup = 11 + static_cast<int>(i);
            tree.addDevice(vf);
            tree.addVirtfn(pf.address, i, vf.address);
        }
        writeFakeDevlink();
    }

    /** Records "$*" and prints switchdev ports once switched. */
    void writeFakeDevlink()
    {
        std::string script = (tree.root() / "devlink").string();
        std::ofstream out(script);
        out << "#!/bin/sh\n"
            << "echo \"$*\" >> '" << devlinkLog << "'\n"
            << "case \"$1 $2\" in\n"
            << "'port show')\n"
            << "  if [ -e '" << eswitchFlag << "' ]; then printf '%s' '"
            << switchdevOutput << "'; else printf '%s' '" << legacyOutput
            << "'; fi ;;\n"
            << "'dev eswitch') touch '" << eswitchFlag << "' ;;\n"
            << "'port function') [ -n \"$FAIL\" ] && "
               "{ echo 'Error: mlx5_core: failed' >&2; exit 1; } ;;\n"
            << "esac\nexit 0\n";
        out.close();
        ::chmod(script.c_str(), 0755);
    }

    std::vector<std::string> devlinkCalls()
    {
        std::vector<std::string> lines;
        std::ifstream in(devlinkLog);
        for (std::string line; std::getline(in, line);)
        {
            lines.push_back(line);
        }
        return lines;
    }

    std::unique_ptr<PluginHost> plugins(LinuxHost& host)
    {
        PluginHostConfig config;
        config.directory = requiredEnv("VFIOD_TEST_MLX5_PLUGINS");
        config.helpers["devlink"] = (tree.root() / "devlink").string();
        config.log = log.sink();
        return std::make_unique<PluginHost>(host, config);
    }
};

TEST_F(Mlx5PluginTest, EnablesMigrationOnThePfBeforeBinding)
{
    LinuxHost host(tree.roots());
    auto loaded = plugins(host);
    PluginDevice vf = loaded->deviceFor(
        readPciDevice(host, PciAddress::parse("0000:08:00.3")));
    EXPECT_EQ(vf.pluginName(), "mlx5");
    EXPECT_EQ(vf.chooseDriver(), "mlx5_vfio_pci");

    vf.prepareBind("mlx5_vfio_pci");
    // Unbound from mlx5_core first (the tree only stores the write).
    EXPECT_EQ(tree.readFile("bus/pci/drivers/mlx5_core/unbind"),
              "0000:08:00.3");
    EXPECT_EQ(devlinkCalls(),
              (std::vector<std::string>{
                  "port show pci/0000:08:00.0",
                  "dev eswitch set pci/0000:08:00.0 mode switchdev",
                  "port show pci/0000:08:00.0",
                  "port function set pci/0000:08:00.0/131074 migratable "
                  "enable"}));
    EXPECT_EQ(log.matching("enabled migration of 0000:08:00.3").size(), 1U);

    // Already in switchdev mode: no mode change the second time.
    std::remove(devlinkLog.c_str());
    loaded->deviceFor(readPciDevice(host, PciAddress::parse("0000:08:00.2")))
        .prepareBind("mlx5_vfio_pci");
    EXPECT_EQ(devlinkCalls(),
              (std::vector<std::string>{
                  "port show pci/0000:08:00.0",
                  "port function set pci/0000:08:00.0/131073 migratable "
                  "enable"}));
}

TEST_F(Mlx5PluginTest, PlainVfioPciNeedsNoPreparation)
{
    LinuxHost host(tree.roots());
    auto loaded = plugins(host);
    loaded->deviceFor(readPciDevice(host, PciAddress::parse("0000:08:00.2")))
        .prepareBind("vfio-pci");
    EXPECT_TRUE(devlinkCalls().empty());
}

TEST_F(Mlx5PluginTest, DevlinkFailureStopsTheBindWithItsMessage)
{
    ::setenv("FAIL", "1", 1);
    LinuxHost host(tree.roots());
    auto loaded = plugins(host);
    try
    {
        loaded
            ->deviceFor(readPciDevice(host, PciAddress::parse("0000:08:00.2")))
            .prepareBind("mlx5_vfio_pci");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_NE(std::string(e.what()).find("mlx5_core: failed"),
                  std::string::npos)
            << e.what();
    }
    ::unsetenv("FAIL");
}

TEST_F(Mlx5PluginTest, OnlyConnectXVfsMatch)
{
    LinuxHost host(tree.roots());
    auto loaded = plugins(host);
    EXPECT_EQ(loaded->chooseName(
                  readPciDevice(host, PciAddress::parse("0000:08:00.0"))),
              "");
}

TEST_F(Mlx5PluginTest, MissingDevlinkIsReported)
{
    LinuxHost host(tree.roots());
    PluginHostConfig config;
    config.directory = requiredEnv("VFIOD_TEST_MLX5_PLUGINS");
    config.helpers["devlink"] = (tree.root() / "nope").string();
    PluginHost loaded(host, config);
    try
    {
        loaded.deviceFor(readPciDevice(host, PciAddress::parse("0000:08:00.2")))
            .prepareBind("mlx5_vfio_pci");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_NE(std::string(e.what()).find("cannot run devlink"),
                  std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace vfiod
