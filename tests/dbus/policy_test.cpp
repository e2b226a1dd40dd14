// The policy in the running daemon: autobind at start-up, on hotplug and on
// VF creation, whole IOMMU groups, failed autobinds, on-release steps,
// Explain, UdevRules and Reload, on the sample simulated host
// (conf/sim-host.toml).

#include "sim/sim_host.hpp"
#include "vfiod_fixture.hpp"

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using Explanation = std::map<std::string, sdbus::Variant>;

const std::string pf = "0000:03:00.0"; // i40e, 8 VFs at 03:02.0-7
const std::string gpu = "0000:01:00.0";
const std::string gpuAudio = "0000:01:00.1";
const std::string nvme = "0000:02:00.0";

class PolicyTest : public VfiodTest
{
  protected:
    static std::string sampleHost()
    {
        return requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml";
    }

    std::string policyDir() const
    {
        return bus->dir() / "policy.d";
    }

    void writePolicy(const std::string& name, const std::string& text)
    {
        std::filesystem::create_directories(policyDir());
        writeFile(policyDir() + "/" + name, text);
    }

    void start()
    {
        bus->startVfiod(sampleHost(), defaultConfig);
        connection = bus->connect();
        manager = std::make_unique<ManagerProxy>(*connection);
    }

    std::string driverOf(const std::string& address)
    {
        return device(address)->Driver();
    }

    /**
     * @brief Waits (bounded) until the device is on @p driver, and, when
     * given, vfiod has recorded @p original as its original driver (the
     * bind uevent can be seen a moment before the bind is recorded).
     */
    bool reaches(const std::string& address, const std::string& driver,
                 const std::optional<std::string>& original = std::nullopt)
    {
        return bus->waitFor([&] {
            try
            {
                return driverOf(address) == driver &&
                       (!original ||
                        device(address)->OriginalDriver() == *original);
            }
            catch (const sdbus::Error&)
            {
                return false; // not announced yet
            }
        });
    }

    SimHost sim()
    {
        return SimHost(sampleHost(), bus->simState());
    }

    /** @brief Every uevent the simulated kernel sent, as text. */
    std::string eventLog()
    {
        auto result = bus->simTool({"events"});
        return result ? result->output : "";
    }
};

TEST_F(PolicyTest, AutobindsMarkedDevicesAtStartup)
{
    writePolicy("50-nvme.toml", R"(
[[rule]]
name = "nvme-to-vfio"
[rule.match]
class = 0x010802
[rule.actions]
bind = "vfio-pci"
)");
    start();
    ASSERT_TRUE(reaches(nvme, "vfio-pci", "nvme")) << bus->vfiodLog();
    auto proxy = device(nvme);
    EXPECT_EQ(proxy->State(), "vfio");
    EXPECT_EQ(proxy->LastError(), "");
    // Devices no rule marks stay where they are.
    EXPECT_EQ(driverOf(pf), "i40e");
    // Logged once the bind is done, a moment after the driver changed.
    EXPECT_TRUE(bus->waitFor([&] {
        return bus->vfiodLog().find(
                   "bound to vfio-pci by rule \"nvme-to-vfio\"") !=
               std::string::npos;
    })) << bus->vfiodLog();
}

TEST_F(PolicyTest, BindsAWholeGroupWhenEveryMemberIsMarked)
{
    writePolicy("10-gpu.toml", R"(
[[rule]]
name = "gpu"
[rule.match]
vendor = 0x10de
[rule.actions]
bind = "auto"
)");
    start();
    EXPECT_TRUE(reaches(gpu, "vfio-pci", "nouveau")) << bus->vfiodLog();
    EXPECT_TRUE(reaches(gpuAudio, "vfio-pci", "snd_hda_intel"))
        << bus->vfiodLog();
}

TEST_F(PolicyTest, AFailedAutobindLeavesTheHostDriverAndSaysWhy)
{
    // Only the GPU is marked: its audio function keeps group 2 from being
    // viable, so the GPU must stay on nouveau.
    writePolicy("10-gpu.toml", R"(
[[rule]]
name = "gpu-only"
[rule.match]
address = "0000:01:00.0"
[rule.actions]
bind = "vfio-pci"
)");
    start();
    ASSERT_TRUE(bus->waitFor([&] {
        return device(gpu)->LastError().find("autobind") != std::string::npos;
    })) << bus->vfiodLog();
    auto proxy = device(gpu);
    EXPECT_EQ(proxy->Driver(), "nouveau");
    EXPECT_EQ(proxy->State(), "host");
    std::string why = proxy->LastError();
    EXPECT_NE(why.find("autobind by rule \"gpu-only\""), std::string::npos)
        << why;
    EXPECT_NE(why.find(gpuAudio), std::string::npos) << why;
    EXPECT_TRUE(bus->waitFor([&] {
        return bus->vfiodLog().find("autobind by rule \"gpu-only\"") !=
               std::string::npos;
    }));
}

TEST_F(PolicyTest, HotpluggedDeviceIsBoundAsItAppears)
{
    writePolicy("20-hotplug.toml", R"(
[[rule]]
name = "hotplug-nic"
[rule.match]
address = "0000:0e:00.0"
[rule.actions]
bind = "vfio-pci"
)");
    start();
    sim().hotAdd("address = \"0000:0e:00.0\"\nvendor = 0x8086\n"
                 "device = 0x10d3\nclass = 0x020000\niommu_group = 40\n");
    EXPECT_TRUE(reaches("0000:0e:00.0", "vfio-pci", "e1000e"))
        << bus->vfiodLog();
}

TEST_F(PolicyTest, WantedVfsNeverReachTheirHostDriver)
{
    writePolicy("30-vfs.toml", R"(
[[rule]]
name = "x710-vfs-0-5"
[rule.match]
pf = "0000:03:00.0"
vf_index = "0-5"
[rule.actions]
bind = "vfio-pci"
)");
    start();
    // vfiod quiets the PF before any VF exists.
    ASSERT_TRUE(bus->waitFor([&] {
        return sim().read("bus/pci/devices/" + pf +
                          "/sriov_drivers_autoprobe") == "0\n";
    })) << bus->vfiodLog();

    auto tool = bus->simTool({"set-numvfs", pf, "8"});
    ASSERT_TRUE(tool && tool->status == 0) << (tool ? tool->output : "");
    for (int index = 0; index < 6; ++index)
    {
        std::string vf = "0000:03:02." + std::to_string(index);
        EXPECT_TRUE(reaches(vf, "vfio-pci")) << vf << "\n" << bus->vfiodLog();
    }
    // The VFs no rule wants get their host driver from vfiod, since the
    // kernel no longer probes them.
    EXPECT_TRUE(reaches("0000:03:02.6", "iavf")) << bus->vfiodLog();
    EXPECT_TRUE(reaches("0000:03:02.7", "iavf")) << bus->vfiodLog();

    std::string events = eventLog();
    ASSERT_FALSE(events.empty());
    for (int index = 0; index < 6; ++index)
    {
        std::string vf = "0000:03:02." + std::to_string(index);
        // No "bind ... DRIVER=iavf" for a wanted VF, ever.
        for (size_t at = events.find(vf); at != std::string::npos;
             at = events.find(vf, at + 1))
        {
            std::string line = events.substr(events.rfind('\n', at) + 1,
                                             events.find('\n', at) -
                                                 events.rfind('\n', at) - 1);
            EXPECT_EQ(line.find("iavf"), std::string::npos) << line;
        }
    }

    // Removing the VFs removes their objects.
    tool = bus->simTool({"set-numvfs", pf, "0"});
    ASSERT_TRUE(tool && tool->status == 0) << (tool ? tool->output : "");
    EXPECT_TRUE(bus->waitFor([&] {
        return errorOf([&] { manager->GetDevice("0000:03:02.0"); }) ==
               "org.vfiod1.Error.NotFound";
    }));
}

TEST_F(PolicyTest, ExplainNamesTheRuleAndThePlan)
{
    writePolicy("10-first.toml", R"(
[[rule]]
name = "keep-nvme"
[rule.match]
class = 0x010802
)");
    writePolicy("20-second.toml", R"(
[[rule]]
name = "all-intel"
[rule.match]
vendor = 0x8086
[rule.actions]
bind = "vfio-pci"
reset_method = "flr"
users = ["alice"]
on_release = "host"
reset_on_release = false
)");
    start();
    Explanation explained = manager->Explain(pf);
    EXPECT_TRUE(explained.at("matched").get<bool>());
    EXPECT_EQ(explained.at("rule").get<std::string>(), "all-intel");
    EXPECT_EQ(explained.at("file").get<std::string>(),
              policyDir() + "/20-second.toml");
    EXPECT_EQ(explained.at("line").get<uint32_t>(), 2u);
    EXPECT_EQ(explained.at("bind").get<std::string>(), "vfio-pci");
    EXPECT_EQ(explained.at("driver").get<std::string>(), "vfio-pci");
    EXPECT_EQ(explained.at("reset_method").get<std::string>(), "flr");
    EXPECT_EQ(explained.at("users").get<std::vector<std::string>>(),
              std::vector<std::string>{"alice"});
    EXPECT_EQ(explained.at("on_release").get<std::string>(), "host");
    EXPECT_FALSE(explained.at("reset_on_release").get<bool>());
    EXPECT_FALSE(explained.at("plan").get<std::string>().empty());

    // First match across files: the NVMe drive's rule in 10-first wins
    // over the vendor rule (its drive is an Intel part too in many hosts).
    Explanation nvmeExplained = manager->Explain(nvme);
    EXPECT_EQ(nvmeExplained.at("rule").get<std::string>(), "keep-nvme");
    EXPECT_EQ(nvmeExplained.at("bind").get<std::string>(), "");

    Explanation none = manager->Explain(gpu);
    EXPECT_FALSE(none.at("matched").get<bool>());
    EXPECT_EQ(none.at("rule").get<std::string>(), "");

    EXPECT_EQ(errorOf([&] { manager->Explain("0000:7f:00.0"); }),
              "org.vfiod1.Error.NotFound");
    EXPECT_EQ(errorOf([&] { manager->Explain("03:00"); }),
              "org.vfiod1.Error.InvalidArgument");

    auto busctl = bus->busctl({"call", "org.vfiod1", "/org/vfiod1",
                               "org.vfiod1.Manager", "Explain", "s", pf});
    EXPECT_EQ(busctl.status, 0) << busctl.output;
    EXPECT_NE(busctl.output.find("all-intel"), std::string::npos)
        << busctl.output;
}

TEST_F(PolicyTest, ReloadKeepsTheOldPolicyOnError)
{
    writePolicy("10-a.toml", R"(
[[rule]]
name = "first"
[rule.match]
address = "0000:02:00.0"
)");
    start();
    EXPECT_EQ(manager->Explain(nvme).at("rule").get<std::string>(), "first");

    writePolicy("20-broken.toml", "[[rule]]\nname = \"broken\"\n"
                                  "[rule.match]\nvendor = \"intel\"\n");
    auto [name, message] = failureOf([&] { manager->Reload(); });
    EXPECT_EQ(name, "org.vfiod1.Error.InvalidArgument");
    EXPECT_NE(message.find(policyDir() + "/20-broken.toml:4:10"),
              std::string::npos)
        << message;
    EXPECT_EQ(manager->Explain(nvme).at("rule").get<std::string>(), "first");
    EXPECT_NE(bus->vfiodLog().find("20-broken.toml:4:10"), std::string::npos);

    // A good policy replaces it at once, and is applied.
    std::filesystem::remove(policyDir() + "/20-broken.toml");
    writePolicy("10-a.toml", R"(
[[rule]]
name = "second"
[rule.match]
address = "0000:02:00.0"
[rule.actions]
bind = "vfio-pci"
)");
    manager->Reload();
    EXPECT_EQ(manager->Explain(nvme).at("rule").get<std::string>(), "second");
    EXPECT_TRUE(reaches(nvme, "vfio-pci")) << bus->vfiodLog();
    EXPECT_NE(manager->UdevRules().find("# rule \"second\""),
              std::string::npos);
}

TEST_F(PolicyTest, OnReleaseResetsAndReturnsToTheHost)
{
    writePolicy("10-nvme.toml", R"(
[[rule]]
name = "nvme-lend"
[rule.match]
address = "0000:02:00.0"
[rule.actions]
reset_method = "bus"
on_release = "host"
)");
    start();
    auto proxy = device(nvme);
    auto resets = [&] {
        return sim().read("bus/pci/devices/" + nvme + "/sim_reset_count");
    };
    std::optional<std::string> before = resets();
    ASSERT_TRUE(before);
    sdbus::UnixFd lease = proxy->Assign({});
    EXPECT_EQ(proxy->Driver(), "vfio-pci");
    proxy->Release({});
    EXPECT_EQ(proxy->Driver(), "nvme");
    EXPECT_EQ(proxy->State(), "host");
    EXPECT_EQ(std::stoi(*resets()), std::stoi(*before) + 1);
    EXPECT_NE(bus->vfiodLog().find(nvme + ": reset after release"),
              std::string::npos);
}

TEST_F(PolicyTest, UdevRulesAreWrittenAndServed)
{
    writePolicy("10-vfs.toml", R"(
[[rule]]
name = "x710-vfs"
[rule.match]
pf = "0000:03:00.0"
vf_index = [0, 1]
[rule.actions]
bind = "vfio-pci"
)");
    start();
    std::string rules = manager->UdevRules();
    EXPECT_NE(rules.find("KERNEL==\"0000:03:02.0|0000:03:02.1\", "
                         "ATTR{driver_override}==\"(null)\", "
                         "ATTR{driver_override}=\"vfio-pci\""),
              std::string::npos)
        << rules;
    std::string written =
        readFile(bus->simState() + "/udev-rules.d/70-vfiod.rules");
    EXPECT_EQ(written, rules);
}

TEST_F(PolicyTest, AStormOf1024VfAddsLosesNone)
{
    writePolicy("10-all-vfs.toml", R"(
[[rule]]
name = "every-vf"
[rule.match]
pf = "0000:40:00.0"
[rule.actions]
bind = "vfio-pci"
)");
    std::string host =
        requiredEnv("VFIOD_SOURCE_ROOT") + "/tests/dbus/storm-host.toml";
    bus->startVfiod(host, defaultConfig);
    connection = bus->connect();
    manager = std::make_unique<ManagerProxy>(*connection);
    SimHost sim(host, bus->simState());
    ASSERT_TRUE(bus->waitFor([&] {
        return sim.read("bus/pci/devices/0000:40:00.0/"
                        "sriov_drivers_autoprobe") == "0\n";
    }));

    // One write creates every VF: 1,024 add uevents at once.
    sim.write("bus/pci/devices/0000:40:00.0/sriov_numvfs", "1024");

    auto onVfio = [&] {
        size_t bound = 0;
        for (const std::string& address : sim.list("bus/pci/drivers/vfio-pci"))
        {
            bound += address.rfind("0000:4", 0) == 0;
        }
        return bound;
    };
    // Polled once a second, with no time bound (a storm that never ends is
    // ended by meson's timeout): every look at the simulated kernel parses
    // its whole state, which would slow the daemon under test down, and
    // the state directory's change notification fires on each of the
    // thousands of writes. The loop ends early, failing, if vfiod exits.
    size_t bound = 0;
    while (bound < 1024 && bus->vfiodProcess()->running())
    {
        std::this_thread::sleep_for(1s);
        bound = onVfio();
    }
    EXPECT_EQ(bound, 1024u) << bound << " of 1024 VFs on vfio-pci";
    // Every VF announced on the bus, and none ever bound to iavf.
    EXPECT_TRUE(bus->waitFor([&] {
        return manager->ListDevices().size() == 1025;
    })) << manager->ListDevices().size();
    auto events = bus->simTool({"events"});
    ASSERT_TRUE(events && events->status == 0);
    EXPECT_EQ(events->output.find("iavf"), std::string::npos);
}

} // namespace
} // namespace vfiod::test
