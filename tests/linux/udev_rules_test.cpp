// The udev rules generated from the policy: their text, the atomic write,
// and what the real udevadm does with them on the devices of a recording
// of a real kernel's sysfs (umockdev-run, with the rules directories
// replaced in a private mount namespace so this machine's rules and udev
// database are neither read nor written).

#include "base/error.hpp"
#include "config/policy.hpp"
#include "config/udev_rules.hpp"
#include "pci/pci_device.hpp"
#include "test_support.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

namespace fs = std::filesystem;

Policy policyOf(const std::string& text)
{
    Policy policy;
    parsePolicyFile(policy, text, "/etc/vfiod/policy.d/50-test.toml");
    return policy;
}

/** @brief The lines of @p text that are not comments or empty. */
std::vector<std::string> ruleLines(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
    {
        if (!line.empty() && line[0] != '#')
        {
            lines.push_back(line);
        }
    }
    return lines;
}

/** @brief The rule lines between the fixed head (3 lines) and the label. */
std::vector<std::string> bodyOf(const std::string& text)
{
    std::vector<std::string> lines = ruleLines(text);
    EXPECT_GE(lines.size(), 4u);
    EXPECT_EQ(lines.back(), "LABEL=\"vfiod_end\"");
    return {lines.begin() + 3, lines.end() - 1};
}

PciDevice pf(unsigned total)
{
    PciDevice device;
    device.address = PciAddress::parse("0000:03:00.0");
    device.sriovCapable = true;
    device.sriovTotalVfs = total;
    device.sriovOffset = 16;
    device.sriovStride = 1;
    return device;
}

TEST(UdevRulesText, HeadGuardsActionSubsystemAndBridges)
{
    std::vector<std::string> lines = ruleLines(generateUdevRules({}, {}));
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "ACTION!=\"add\", GOTO=\"vfiod_end\"");
    EXPECT_EQ(lines[1], "SUBSYSTEM!=\"pci\", GOTO=\"vfiod_end\"");
    EXPECT_EQ(lines[2], "ATTR{class}==\"0x0604??|0x0607??|0x0609??\", "
                        "GOTO=\"vfiod_end\"");
}

TEST(UdevRulesText, IdsAndClassBecomeAttributeMatches)
{
    std::string text = generateUdevRules(policyOf(R"(
[[rule]]
name = "gpu"
[rule.match]
vendor = 0x10de
device = [0x2204, 0x1aef]
subsystem_vendor = 0x1458
subsystem_device = 0x403b
class = 0x030000
class_mask = 0xff0000
[rule.actions]
bind = "vfio-pci"
)"),
                                         {});
    EXPECT_NE(text.find("# rule \"gpu\" (/etc/vfiod/policy.d/50-test.toml:2)"),
              std::string::npos)
        << text;
    std::vector<std::string> body = bodyOf(text);
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body[0],
              "ATTR{vendor}==\"0x10de\", ATTR{device}==\"0x2204|0x1aef\", "
              "ATTR{subsystem_vendor}==\"0x1458\", "
              "ATTR{subsystem_device}==\"0x403b\", ATTR{class}==\"0x03????\", "
              "ATTR{driver_override}==\"(null)\", "
              "ATTR{driver_override}=\"vfio-pci\", "
              "RUN{builtin}+=\"kmod load vfio-pci\", TAG+=\"systemd\", "
              "ENV{SYSTEMD_WANTS}+=\"vfiod.service\", GOTO=\"vfiod_end\"");
}

TEST(UdevRulesText, AutoHoldsTheDeviceForVfiodToChoose)
{
    std::vector<std::string> body = bodyOf(generateUdevRules(policyOf(R"(
[[rule]]
name = "cx6-vfs"
[rule.match]
vendor = 0x15b3
device = 0x101e
[rule.actions]
bind = "auto"
)"),
                                                             {}));
    ASSERT_EQ(body.size(), 1u);
    EXPECT_NE(body[0].find("ATTR{driver_override}=\"none\""),
              std::string::npos);
    EXPECT_EQ(body[0].find("kmod load"), std::string::npos) << body[0];
}

TEST(UdevRulesText, FirstMatchOrderIsKeptAndShieldingRulesBindNothing)
{
    std::vector<std::string> body = bodyOf(generateUdevRules(policyOf(R"(
[[rule]]
name = "keep-boot-nic"
[rule.match]
address = "0000:02:00.0"

[[rule]]
name = "other-intel-nics"
[rule.match]
vendor = 0x8086
class = 0x020000
[rule.actions]
bind = "vfio-pci"
)"),
                                                             {}));
    ASSERT_EQ(body.size(), 2u);
    EXPECT_EQ(body[0], "KERNEL==\"0000:02:00.0\", GOTO=\"vfiod_end\"");
    EXPECT_EQ(body[1].rfind("ATTR{vendor}==\"0x8086\", ATTR{class}==", 0), 0u)
        << body[1];
}

TEST(UdevRulesText, UntestableSelectorsNeverClaimTooMuch)
{
    std::string text = generateUdevRules(policyOf(R"(
[[rule]]
name = "by-driver"
[rule.match]
driver = "e1000e"
[rule.actions]
bind = "vfio-pci"

[[rule]]
name = "by-slot"
[rule.match]
vendor = 0x8086
slot = "3"
[rule.actions]
bind = "vfio-pci"

[[rule]]
name = "odd-mask"
[rule.match]
class = 0x020000
class_mask = 0xfff800
[rule.actions]
bind = "vfio-pci"
)"),
                                         {});
    // A driver selector cannot match a device being added: left out.
    EXPECT_NE(text.find("# rule \"by-driver\" (/etc/vfiod/policy.d/"
                        "50-test.toml:2): not here"),
              std::string::npos)
        << text;
    // Slot and a mask that splits a digit: guards that bind nothing.
    std::vector<std::string> body = bodyOf(text);
    ASSERT_EQ(body.size(), 2u) << text;
    EXPECT_EQ(body[0], "ATTR{vendor}==\"0x8086\", GOTO=\"vfiod_end\"");
    EXPECT_EQ(body[1], "GOTO=\"vfiod_end\"");
    EXPECT_EQ(text.find("driver_override}=\""), std::string::npos) << text;
}

TEST(UdevRulesText, VfSelectorsBecomeTheVfAddresses)
{
    Policy policy = policyOf(R"(
[[rule]]
name = "vfs"
[rule.match]
pf = "0000:03:00.0"
vf_index = ["0-1", 3]
[rule.actions]
bind = "vfio-pci"
)");
    std::vector<std::string> body = bodyOf(generateUdevRules(policy, {pf(8)}));
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body[0].rfind("KERNEL==\"0000:03:02.0|0000:03:02.1|"
                            "0000:03:02.3\", ATTR{driver_override}==",
                            0),
              0u)
        << body[0];

    // Without the PF there is nothing to write.
    std::string absent = generateUdevRules(policy, {});
    EXPECT_TRUE(bodyOf(absent).empty());
    EXPECT_NE(absent.find("PF 0000:03:00.0 is not present"), std::string::npos);
}

TEST(UdevRulesText, ManyVfsAreSplitIntoShortLines)
{
    Policy policy = policyOf(R"(
[[rule]]
name = "every-vf"
[rule.match]
pf = "0000:03:00.0"
[rule.actions]
bind = "vfio-pci"
)");
    std::vector<std::string> body =
        bodyOf(generateUdevRules(policy, {pf(1024)}));
    ASSERT_EQ(body.size(), 32u); // 32 addresses a line
    size_t addresses = 0;
    for (const std::string& line : body)
    {
        EXPECT_LT(line.size(), 1024u);
        std::string kernel = line.substr(0, line.find("\", "));
        addresses +=
            static_cast<size_t>(std::count(kernel.begin(), kernel.end(), '|')) +
            1;
    }
    EXPECT_EQ(addresses, 1024u);
    // VF 1023 sits at routing ID 0x300 + 16 + 1023 = 0x70f: bus 7.
    EXPECT_NE(body.back().find("0000:07:01.7\""), std::string::npos)
        << body.back();
}

TEST(UdevRulesFile, WrittenAtomicallyOnlyWhenChanged)
{
    fs::path dir = fs::temp_directory_path() /
                   ("vfiod-udev-" + std::to_string(::getpid())) / "rules.d";
    // Missing, as /run/udev/rules.d is on a stock system: created.
    EXPECT_TRUE(writeUdevRules(dir.string(), "one\n"));
    EXPECT_FALSE(writeUdevRules(dir.string(), "one\n"));
    EXPECT_TRUE(writeUdevRules(dir.string(), "two\n"));
    std::ifstream in(dir / "70-vfiod.rules");
    std::string content((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "two\n");
    EXPECT_EQ(
        std::distance(fs::directory_iterator(dir), fs::directory_iterator()),
        1); // no temporary file left behind
    fs::remove_all(dir);

    try
    {
        writeUdevRules("/proc/vfiod-cannot-be-here", "x");
        ADD_FAILURE() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_NE(std::string(e.what()).find("/proc/vfiod-cannot-be-here"),
                  std::string::npos);
    }
}

TEST(UdevRulesFile, WhatIsPlantedAtItsNamesIsReplacedNeverWrittenThrough)
{
    TempDir rules;
    TempDir elsewhere;
    std::string path = rules / "70-vfiod.rules";
    auto isRegular = [&] {
        return fs::is_regular_file(fs::symlink_status(path));
    };

    // A link to a file holding the very text: not taken for vfiod's file.
    std::string victim = elsewhere.write("victim", "one\n");
    fs::create_symlink(victim, path);
    EXPECT_TRUE(writeUdevRules(rules.path(), "one\n"));
    EXPECT_TRUE(isRegular());
    EXPECT_EQ(readFile(path), "one\n");
    EXPECT_EQ(readFile(victim), "one\n");

    // A link to another file, and one to nothing: neither target written.
    fs::remove(path);
    fs::create_symlink(victim, path);
    EXPECT_TRUE(writeUdevRules(rules.path(), "two\n"));
    EXPECT_TRUE(isRegular());
    EXPECT_EQ(readFile(victim), "one\n");
    std::string absent = elsewhere / "absent";
    fs::remove(path);
    fs::create_symlink(absent, path);
    EXPECT_TRUE(writeUdevRules(rules.path(), "two\n"));
    EXPECT_TRUE(isRegular());
    EXPECT_FALSE(fs::exists(fs::symlink_status(absent)));

    // At the temporary name the old code used (pid suffix).
    std::string temporary = path + ".tmp." + std::to_string(::getpid());
    fs::create_symlink(victim, temporary);
    EXPECT_TRUE(writeUdevRules(rules.path(), "three\n"));
    EXPECT_EQ(readFile(path), "three\n");
    EXPECT_EQ(readFile(victim), "one\n");
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(temporary))); // not ours
    fs::remove(temporary);

    // A FIFO nobody writes to: not waited on, replaced.
    fs::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    EXPECT_TRUE(writeUdevRules(rules.path(), "four\n"));
    EXPECT_TRUE(isRegular());
    EXPECT_EQ(readFile(path), "four\n");
    EXPECT_EQ(std::distance(fs::directory_iterator(rules.path()),
                            fs::directory_iterator()),
              1); // no temporary file left behind
}

/** @brief Runs a shell command; its status and merged output. */
std::pair<int, std::string> shell(const std::string& command)
{
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
    {
        return {-1, ""};
    }
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    {
        output.append(buffer.data(), n);
    }
    int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class UdevadmTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        if (::geteuid() != 0)
        {
            GTEST_SKIP() << "needs root for a private mount namespace";
        }
        for (const char* tool : {"unshare", "udevadm", "umockdev-run"})
        {
            if (shell(std::string("command -v ") + tool).first != 0)
            {
                GTEST_SKIP() << tool << " is not installed";
            }
        }
        dir = fs::temp_directory_path() /
              ("vfiod-udevadm-" + std::to_string(::getpid()));
        fs::create_directories(dir / "rules");
    }

    void TearDown() override
    {
        if (!dir.empty())
        {
            fs::remove_all(dir);
        }
    }

    /**
     * @brief What `udevadm test --action=add` does with @p rules (file
     * name -> text) on one device of @p recording. It runs in a private
     * mount namespace where every rules directory, /run (udev's database)
     * and /dev (the links udevadm creates) are fresh tmpfs mounts, so only
     * @p rules are read and nothing of this machine is touched.
     */
    std::string udevadmTest(const std::map<std::string, std::string>& rules,
                            const std::string& devpath,
                            const std::string& recording = plainRecording())
    {
        fs::remove_all(dir / "rules");
        fs::create_directories(dir / "rules");
        fs::create_directories(dir / "olddev");
        for (const auto& [name, text] : rules)
        {
            std::ofstream(dir / "rules" / name) << text;
        }
        std::string old = (dir / "olddev").string();
        std::string script =
            "set -e; mount -t tmpfs none /run; "
            "for d in /etc/udev/rules.d /usr/lib/udev/rules.d "
            "/lib/udev/rules.d; do if [ -d $d ]; then mount -t tmpfs none $d; "
            "fi; done; mount --bind " +
            (dir / "rules").string() +
            " /etc/udev/rules.d; "
            // A /dev of its own, with what umockdev-run needs from the real
            // one (a pty, /dev/null).
            "mount --rbind /dev " +
            old + "; mount -t tmpfs none /dev; for n in null zero urandom; " +
            "do touch /dev/$n; mount --bind " + old +
            "/$n /dev/$n; done; mkdir /dev/pts; mount --bind " + old +
            "/pts /dev/pts; ln -s pts/ptmx /dev/ptmx; "
            "umockdev-run -d " +
            recording + " -- udevadm test --action=add " + devpath;
        auto [status, output] =
            shell("unshare -m --propagation private sh -c '" + script + "'");
        EXPECT_EQ(status, 0) << output;
        return output;
    }

    std::string udevadmTest(const std::string& generated,
                            const std::string& devpath)
    {
        return udevadmTest({{"70-vfiod.rules", generated}}, devpath);
    }

    static std::string plainRecording()
    {
        return vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT") +
               "/tests/fixtures/sysfs/q35-linux6.1-plain.umockdev";
    }

    /** @brief The shipped static rules, by file name. */
    static std::map<std::string, std::string> staticRules()
    {
        std::map<std::string, std::string> rules;
        fs::path source =
            fs::path(vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT")) /
            "udev-rules";
        for (const auto& entry : fs::directory_iterator(source))
        {
            if (entry.path().extension() == ".rules")
            {
                std::ifstream in(entry.path());
                rules[entry.path().filename().string()] =
                    std::string(std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>());
            }
        }
        return rules;
    }

    fs::path dir;
};

constexpr const char* e1000e =
    "/sys/devices/pci0000:00/0000:00:11.0/0000:02:00.0";
constexpr const char* virtioNet =
    "/sys/devices/pci0000:00/0000:00:12.0/0000:03:00.0";
constexpr const char* nvme =
    "/sys/devices/pci0000:00/0000:00:13.0/0000:04:00.0";
constexpr const char* rootPort = "/sys/devices/pci0000:00/0000:00:10.0";

bool overrides(const std::string& output, const std::string& driver)
{
    return output.find("driver_override' writing '" + driver + "'") !=
           std::string::npos;
}

TEST_F(UdevadmTest, RulesSetTheOverrideOnTheDevicesThePolicyMarks)
{
    std::string rules = generateUdevRules(policyOf(R"(
[[rule]]
name = "keep-virtio"
[rule.match]
vendor = 0x1af4

[[rule]]
name = "nics"
[rule.match]
class = 0x020000
class_mask = 0xffff00
[rule.actions]
bind = "vfio-pci"

[[rule]]
name = "storage"
[rule.match]
vendor = 0x1b36
device = 0x0010
[rule.actions]
bind = "auto"

[[rule]]
name = "everything-else"
[rule.match]
all = true
)"),
                                          {});
    std::string output = udevadmTest(rules, e1000e);
    EXPECT_TRUE(overrides(output, "vfio-pci")) << output;
    EXPECT_NE(output.find("RUN 'kmod load vfio-pci'"), std::string::npos);
    EXPECT_NE(output.find("SYSTEMD_WANTS=vfiod.service"), std::string::npos);

    // An earlier rule without actions keeps a later one off the device.
    output = udevadmTest(rules, virtioNet);
    EXPECT_FALSE(overrides(output, "vfio-pci")) << output;
    EXPECT_EQ(output.find("SYSTEMD_WANTS"), std::string::npos) << output;

    output = udevadmTest(rules, nvme);
    EXPECT_TRUE(overrides(output, "none")) << output;

    // Bridges never: even a rule matching everything binds none.
    std::string all = generateUdevRules(
        policyOf("[[rule]]\nname = \"all\"\n[rule.match]\nall = true\n"
                 "[rule.actions]\nbind = \"vfio-pci\"\n"),
        {});
    output = udevadmTest(all, rootPort);
    EXPECT_FALSE(overrides(output, "vfio-pci")) << output;
    EXPECT_TRUE(overrides(udevadmTest(all, nvme), "vfio-pci"));
}

TEST_F(UdevadmTest, StaticRulesLinkVfioNodesByAddressAndStartVfiod)
{
    // A hand-written testbed (tests/files/vfio-nodes.umockdev): a NIC on
    // vfio-pci with its per-device cdev, and a group node.
    std::string nodes = vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT") +
                        "/tests/files/vfio-nodes.umockdev";
    std::map<std::string, std::string> rules = staticRules();
    ASSERT_EQ(rules.size(), 2u);

    std::string output = udevadmTest(
        rules,
        "/sys/devices/pci0000:00/0000:00:11.0/0000:02:00.0/vfio-dev/vfio0",
        nodes);
    EXPECT_NE(output.find("DEVLINKS=/dev/vfio/devices/by-address/0000:02:00.0"),
              std::string::npos)
        << output;

    // The group node's links come from /sys/kernel/iommu_groups, which a
    // testbed cannot hold: the rule must still run cleanly.
    output = udevadmTest(rules, "/sys/devices/virtual/vfio/10", nodes);
    EXPECT_NE(output.find("Running PROGRAM"), std::string::npos) << output;

    output = udevadmTest(
        rules, "/sys/devices/pci0000:00/0000:00:11.0/0000:02:00.0", nodes);
    EXPECT_NE(output.find("SYSTEMD_WANTS=vfiod.service"), std::string::npos)
        << output;

    // A NIC on its host driver, with no override, does not start vfiod.
    output = udevadmTest(rules, e1000e);
    EXPECT_EQ(output.find("SYSTEMD_WANTS"), std::string::npos) << output;
}

} // namespace
} // namespace vfiod::test
