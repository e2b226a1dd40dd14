// Loading and refusing plugins, choosing one for a device, and calling ops
// that fail or hang, on the simulated host.
#include "base/error.hpp"
#include "pci/pci_device.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin/plugin_services.hpp"
#include "plugin_test_util.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

using namespace std::chrono_literals;
using plugintest::LogCapture;
using plugintest::requiredEnv;

PciDevice fakeDevice(const std::string& address, uint16_t vendor,
                     uint16_t device)
{
    PciDevice d;
    d.address = PciAddress::parse(address);
    d.vendorId = vendor;
    d.deviceId = device;
    d.subsystemVendorId = vendor;
    d.subsystemDeviceId = device;
    d.classCode = 0x020000;
    return d;
}

class PluginHostTest : public ::testing::Test
{
  protected:
    simtest::TempDir dir;
    SimHost sim{requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml",
                dir.path() + "/state"};
    LogCapture log;

    std::unique_ptr<PluginHost> load(const std::string& directory,
                                     std::chrono::milliseconds timeout = 5s)
    {
        PluginHostConfig config;
        config.directory = directory;
        config.opTimeout = timeout;
        config.log = log.sink();
        return std::make_unique<PluginHost>(sim, config);
    }

    /**
     * @brief Copies the built ABI test plugin @p name into @p to as @p as,
     * mode 0644: what the checks accept whatever the umask of the build.
     * @return the copy's path.
     */
    static std::string copyPlugin(const simtest::TempDir& to,
                                  const std::string& name,
                                  const std::string& as)
    {
        std::string path = to / as;
        std::filesystem::copy_file(
            requiredEnv("VFIOD_TEST_ABI_PLUGINS") + "/" + name, path);
        chmodOrThrow(path, 0644);
        return path;
    }

    static void chmodOrThrow(const std::string& path, mode_t mode)
    {
        if (::chmod(path.c_str(), mode) != 0)
        {
            throw std::system_error(errno, std::generic_category(),
                                    "chmod " + path);
        }
    }

    /** @brief Gives @p path to nobody (65534), as a file of another user. */
    static void chownToNobody(const std::string& path)
    {
        if (::lchown(path.c_str(), 65534, 65534) != 0)
        {
            throw std::system_error(errno, std::generic_category(),
                                    "chown " + path);
        }
    }

    /** @brief The names of the loaded plugins, in load order. */
    static std::vector<std::string> names(const PluginHost& host)
    {
        std::vector<std::string> list;
        for (const PluginInfo& info : host.plugins())
        {
            list.push_back(info.name);
        }
        return list;
    }

    /** @brief Exactly one refusal line names @p path, and it says @p why. */
    void expectRefused(const std::string& path, const std::string& why)
    {
        auto lines = log.matching("plugin " + path + " refused");
        ASSERT_EQ(lines.size(), 1U) << path;
        EXPECT_NE(lines[0].find(why), std::string::npos) << lines[0];
    }
};

/** @brief Only root can give a file to another user. */
#define SKIP_UNLESS_ROOT()                                                     \
    if (::geteuid() != 0)                                                      \
    {                                                                          \
        GTEST_SKIP() << "giving a file to another user needs root";            \
    }

TEST_F(PluginHostTest, RefusesEachBadPluginWithOneLineAndLoadsTheRest)
{
    auto host = load(requiredEnv("VFIOD_TEST_ABI_PLUGINS"));
    std::vector<std::string> names;
    for (const PluginInfo& info : host->plugins())
    {
        names.push_back(info.name);
        EXPECT_EQ(info.abiMajor, 1U);
        EXPECT_EQ(info.abiMinor, 0U);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"good", "second"}));
    EXPECT_NE(host->plugins()[0].path.find("a_good.so"), std::string::npos);

    auto refusal = [&](const std::string& file, const std::string& why) {
        auto lines = log.matching(file);
        ASSERT_EQ(lines.size(), 1U) << file;
        EXPECT_NE(lines[0].find("refused"), std::string::npos) << lines[0];
        EXPECT_NE(lines[0].find(why), std::string::npos) << lines[0];
    };
    refusal("b_wrong_major.so", "plugin ABI 2.0");
    refusal("c_small_descriptor.so", "descriptor is 16 bytes");
    refusal("d_small_ops.so", "ops table is 8 bytes");
    refusal("e_no_entry.so", "no vfiod_plugin_entry symbol");
    refusal("f_unloadable.so", "cannot be loaded");
    refusal("g_no_name.so", "name is missing");
    refusal("h_duplicate.so", "another plugin named \"good\"");
    refusal("i_null_entry.so", "returned no descriptor");
    EXPECT_EQ(log.matching("refused").size(), 8U);
}

TEST_F(PluginHostTest, RefusesEveryPluginOfAWorldWritableDirectory)
{
    simtest::TempDir plugins;
    std::string good = copyPlugin(plugins, "a_good.so", "a_good.so");
    std::string second = copyPlugin(plugins, "j_second.so", "j_second.so");
    chmodOrThrow(plugins.path(), 0777);
    auto host = load(plugins.path());
    EXPECT_TRUE(host->plugins().empty());
    std::string why =
        "directory " + plugins.path() + " is writable by others (mode 0777)";
    expectRefused(good, why);
    expectRefused(second, why);
    EXPECT_EQ(log.matching("refused").size(), 2U);
}

TEST_F(PluginHostTest, RefusesEveryPluginOfAGroupWritableDirectory)
{
    // Stricter than the others-only rule: a member of the group could drop
    // a library in as surely as anyone could in a world-writable one.
    simtest::TempDir plugins;
    std::string good = copyPlugin(plugins, "a_good.so", "a_good.so");
    chmodOrThrow(plugins.path(), 0775);
    auto host = load(plugins.path());
    EXPECT_TRUE(host->plugins().empty());
    expectRefused(good, "directory " + plugins.path() +
                            " is writable by group (mode 0775)");
}

TEST_F(PluginHostTest, RefusesEveryPluginOfADirectoryOfAnotherUser)
{
    SKIP_UNLESS_ROOT();
    simtest::TempDir plugins;
    std::string good = copyPlugin(plugins, "a_good.so", "a_good.so");
    chownToNobody(plugins.path());
    auto host = load(plugins.path());
    EXPECT_TRUE(host->plugins().empty());
    expectRefused(good,
                  "directory " + plugins.path() + " is owned by uid 65534");
}

TEST_F(PluginHostTest, RefusesAFileOfAnotherUserAndLoadsTheRest)
{
    SKIP_UNLESS_ROOT();
    simtest::TempDir plugins;
    copyPlugin(plugins, "a_good.so", "a_good.so");
    std::string theirs = copyPlugin(plugins, "j_second.so", "b_theirs.so");
    chownToNobody(theirs);
    auto host = load(plugins.path());
    EXPECT_EQ(names(*host), (std::vector<std::string>{"good"}));
    expectRefused(theirs, "owned by uid 65534");
    EXPECT_EQ(log.matching("refused").size(), 1U);
}

TEST_F(PluginHostTest, RefusesAGroupOrWorldWritableFileAndLoadsTheRest)
{
    simtest::TempDir plugins;
    copyPlugin(plugins, "a_good.so", "a_good.so");
    std::string group = copyPlugin(plugins, "j_second.so", "b_group.so");
    chmodOrThrow(group, 0664);
    std::string world = copyPlugin(plugins, "j_second.so", "c_world.so");
    chmodOrThrow(world, 0666);
    auto host = load(plugins.path());
    EXPECT_EQ(names(*host), (std::vector<std::string>{"good"}));
    expectRefused(group, "writable by group (mode 0664)");
    expectRefused(world, "writable by others (mode 0666)");
    EXPECT_EQ(log.matching("refused").size(), 2U);
}

TEST_F(PluginHostTest, RefusesAFifoNamedLikeAPluginWithoutWaitingOnIt)
{
    // Opening a FIFO for reading blocks until a writer comes, and none
    // will: if the host opened it so, this test would never return.
    simtest::TempDir plugins;
    copyPlugin(plugins, "a_good.so", "a_good.so");
    std::string fifo = plugins / "x.so";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);
    auto host = load(plugins.path());
    EXPECT_EQ(names(*host), (std::vector<std::string>{"good"}));
    expectRefused(fifo, "not a regular file (FIFO)");
}

TEST_F(PluginHostTest, RefusesASymlinkEvenToAPluginThatWouldPass)
{
    // The target passes every check on its own: the link is refused for
    // being one (its target lies beyond the directory that was checked).
    simtest::TempDir elsewhere;
    std::string target = copyPlugin(elsewhere, "j_second.so", "j_second.so");
    simtest::TempDir plugins;
    copyPlugin(plugins, "a_good.so", "a_good.so");
    std::string link = plugins / "x.so";
    std::filesystem::create_symlink(target, link);
    auto host = load(plugins.path());
    EXPECT_EQ(names(*host), (std::vector<std::string>{"good"}));
    expectRefused(link, "not a regular file (symbolic link to " + target + ")");
}

TEST_F(PluginHostTest, GoodPluginsLoadBesideEveryKindOfRefusedFile)
{
    simtest::TempDir elsewhere;
    std::string target = copyPlugin(elsewhere, "j_second.so", "j_second.so");
    simtest::TempDir plugins;
    copyPlugin(plugins, "a_good.so", "a_good.so");
    chmodOrThrow(copyPlugin(plugins, "j_second.so", "b_world.so"), 0666);
    std::string fifo = plugins / "c_fifo.so";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);
    std::filesystem::create_symlink(target, plugins / "d_link.so");
    std::filesystem::create_directory(plugins / "e_dir.so");
    chmodOrThrow(plugins / "e_dir.so", 0755);
    copyPlugin(plugins, "j_second.so", "z_second.so");
    auto host = load(plugins.path());
    EXPECT_EQ(names(*host), (std::vector<std::string>{"good", "second"}));
    // Loaded by their own names, not the fd they were loaded through.
    EXPECT_EQ(host->plugins()[1].path, plugins / "z_second.so");
    expectRefused(plugins / "e_dir.so", "not a regular file (directory)");
    EXPECT_EQ(log.matching("refused").size(), 4U);
}

TEST_F(PluginHostTest, EmptyOrMissingDirectoryLoadsNothing)
{
    EXPECT_TRUE(load("")->plugins().empty());
    EXPECT_TRUE(load(dir.path() + "/nowhere")->plugins().empty());
}

TEST_F(PluginHostTest, ChoosesHighestPriorityMatchUnlessForced)
{
    // abi: good (priority 1, vendor 0xabcd) and second; ops: ops (100).
    simtest::TempDir both;
    for (const auto& [from, name] :
         {std::pair{requiredEnv("VFIOD_TEST_ABI_PLUGINS"), "a_good.so"},
          std::pair{requiredEnv("VFIOD_TEST_OPS_PLUGINS"), "ops.so"}})
    {
        std::filesystem::copy_file(from + "/" + name, both.path() + "/" + name);
        chmodOrThrow(both.path() + "/" + name, 0644);
    }
    auto host = load(both.path());
    PciDevice ours = fakeDevice("0000:0c:00.0", 0xabcd, 0x0001);
    EXPECT_EQ(host->chooseName(ours), "ops");
    EXPECT_EQ(host->chooseName(ours, "good"), "good");

    // ops' probe declines 0xdead: the next match takes it.
    EXPECT_EQ(host->chooseName(fakeDevice("0000:0c:00.0", 0xabcd, 0xdead)),
              "good");
    // Nobody matches another vendor.
    EXPECT_EQ(host->chooseName(fakeDevice("0000:0c:00.0", 0x8086, 1)), "");

    try
    {
        host->deviceFor(ours, "nonexistent");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
    }
    try
    {
        host->deviceFor(fakeDevice("0000:0c:00.0", 0x8086, 1), "ops");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotSupported);
    }
}

TEST_F(PluginHostTest, MatchEntriesFollowPciDeviceIdRules)
{
    PciDevice d = fakeDevice("0000:01:00.0", 0x10de, 0x2204);
    d.classCode = 0x030000;
    vfiod_plugin_match any{VFIOD_PLUGIN_ANY_ID,
                           VFIOD_PLUGIN_ANY_ID,
                           VFIOD_PLUGIN_ANY_ID,
                           VFIOD_PLUGIN_ANY_ID,
                           0,
                           0};
    EXPECT_TRUE(pluginMatches(any, d));
    vfiod_plugin_match gpu = any;
    gpu.vendor = 0x10de;
    gpu.class_code = 0x030000;
    gpu.class_mask = 0xff0000;
    EXPECT_TRUE(pluginMatches(gpu, d));
    gpu.class_code = 0x020000;
    EXPECT_FALSE(pluginMatches(gpu, d));
    vfiod_plugin_match other = any;
    other.subsystem_device = 0x1234;
    EXPECT_FALSE(pluginMatches(other, d));
}

/**
 * @brief The FIFO the ops plugin's hung reset (function .1) waits on
 * ($VFIOD_TEST_OPS_GATE): it hangs until release(), a gate the test
 * holds instead of a delay.
 */
class OpsGate
{
  public:
    OpsGate() : fifo(dir / "gate")
    {
        if (::mkfifo(fifo.c_str(), 0600) != 0)
        {
            throw std::system_error(errno, std::generic_category(), "mkfifo");
        }
        // Before the plugin host starts its threads.
        ::setenv("VFIOD_TEST_OPS_GATE", fifo.c_str(), 1);
    }
    ~OpsGate()
    {
        // Whatever op still waits (none, normally): O_NONBLOCK fails at
        // once when no reader has the FIFO open.
        int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
        {
            ::close(fd);
        }
        ::unsetenv("VFIOD_TEST_OPS_GATE");
    }
    /** @brief Lets the hung op return: opens the FIFO as soon as the op
     * has it open (it may not have got that far yet), then closes it. */
    void release()
    {
        int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0)
        {
            ::close(fd);
        }
    }

  private:
    vfiod::test::TempDir dir;
    std::string fifo;
};

class OpsTest : public PluginHostTest
{
  protected:
    OpsGate gate; // before host: set up before it, gone after it
    std::unique_ptr<PluginHost> host =
        load(requiredEnv("VFIOD_TEST_OPS_PLUGINS"), 300ms);

    PluginDevice device(const std::string& address)
    {
        return host->deviceFor(fakeDevice(address, 0xabcd, 1));
    }
};

TEST_F(OpsTest, SucceedingOpsAndPluginLogLines)
{
    PluginDevice d = device("0000:0c:00.0");
    EXPECT_EQ(d.pluginName(), "ops");
    EXPECT_EQ(d.chooseDriver(), "vfio-pci");
    d.prepareBind("vfio-pci"); // not implemented: nothing to do
    d.reset("");
    EXPECT_EQ(log.matching("plugin ops: reset 0000:0c:00.0").size(), 1U);
    EXPECT_FALSE(d.canMigrate());
    try
    {
        d.migrationFlags();
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotSupported);
    }
}

TEST_F(OpsTest, FailingOpReportsThePluginsReason)
{
    PluginDevice d = device("0000:0c:00.2");
    try
    {
        d.reset("flr");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        std::string what = e.what();
        EXPECT_NE(what.find("firmware refused the reset"), std::string::npos);
        EXPECT_NE(what.find("EIO"), std::string::npos) << what;
        EXPECT_NE(what.find("0000:0c:00.2"), std::string::npos);
    }
    // A positive return where 0/-errno is the contract is a failure too.
    try
    {
        device("0000:0c:00.3").reset("");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
    }
}

TEST_F(OpsTest, HungOpTimesOutAndTheHostGoesOn)
{
    PluginDevice hung = device("0000:0c:00.1");
    try
    {
        hung.reset("");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::TimedOut);
    }
    // In that order: the call returned while the op still hangs (it cannot
    // return before the gate opens), so the host did not wait for it.
    EXPECT_TRUE(host->isStuck(hung.device().address));
    // The stuck device refuses more work; other devices carry on.
    try
    {
        hung.reset("");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Busy);
    }
    device("0000:0c:00.0").reset("");
    // When the op finally returns, the device is usable again. The day is
    // the API's argument, not a bound on the test.
    gate.release();
    EXPECT_TRUE(
        host->waitUntilNotStuck(hung.device().address, std::chrono::hours(24)));
    EXPECT_FALSE(host->isStuck(hung.device().address));
}

TEST_F(PluginHostTest, HostServicesRefuseHostilePaths)
{
    auto shared = std::make_shared<PluginServicesShared>(
        sim, std::map<std::string, std::string>{}, log.sink());
    PluginServices services(shared, "test");
    const vfiod_host_services* h = services.table();
    EXPECT_EQ(h->struct_size, sizeof(vfiod_host_services));
    char buf[256];
    for (const char* path :
         {"/etc/passwd", "../etc/passwd", "bus/pci/../../../etc/passwd",
          "bus//pci", "bus/pci/devices/./x", "", "bus/pci\n"})
    {
        EXPECT_EQ(h->sysfs_read(h->context, path, buf, sizeof buf), -EINVAL)
            << path;
        EXPECT_EQ(h->sysfs_write(h->context, path, "1"), -EINVAL) << path;
        EXPECT_EQ(h->sysfs_readlink(h->context, path, buf, sizeof buf), -EINVAL)
            << path;
        int fd = -1;
        EXPECT_EQ(h->sysfs_open(h->context, path, 0, &fd), -EINVAL) << path;
    }
    EXPECT_EQ(h->sysfs_read(h->context, nullptr, buf, sizeof buf), -EINVAL);
    int n = h->sysfs_read(h->context, "bus/pci/devices/0000:02:00.0/vendor",
                          buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf), "0x144d\n");
    EXPECT_EQ(h->sysfs_read(h->context, "bus/pci/devices/0000:02:00.0/nope",
                            buf, sizeof buf),
              -ENOENT);
    // Truncated, still terminated.
    char small[4];
    EXPECT_EQ(h->sysfs_read(h->context, "bus/pci/devices/0000:02:00.0/vendor",
                            small, sizeof small),
              3);
    EXPECT_STREQ(small, "0x1");
    int fd = -1;
    EXPECT_EQ(h->open_device(h->context, "0000:02:00.0", &fd), -EOPNOTSUPP);
    EXPECT_EQ(h->open_device(h->context, "garbage", &fd), -EINVAL);
    const char* args[] = {"x", nullptr};
    EXPECT_EQ(h->run_helper(h->context, "devlink", args, buf, sizeof buf),
              -ENOENT);
    h->log(h->context, VFIOD_LOG_INFO, "hello %d", 42);
    EXPECT_EQ(log.matching("plugin test: hello 42").size(), 1U);
}

} // namespace
} // namespace vfiod
