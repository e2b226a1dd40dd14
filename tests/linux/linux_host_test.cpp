#include "base/error.hpp"
#include "base/fd.hpp"
#include "linux/linux_host.hpp"
#include "sysfs_tree.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <system_error>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using namespace std::chrono_literals;

/// open(2) of a FIFO sleeping until a reader comes.
const std::initializer_list<long> fifoOpen = {SYS_openat, SYS_open};
/// waitDevNode sleeping in poll(2) on its inotify watch.
const std::initializer_list<long> inotifyPoll = {SYS_poll, SYS_ppoll};
/// A waitDevNode timeout that only a hang reaches.
constexpr std::chrono::milliseconds noLimit = std::chrono::hours(24);
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* nic = "0000:03:00.0";
constexpr const char* edu = "0000:06:01.0";

class LinuxHostTest : public ::testing::Test
{
  protected:
    LinuxHostTest()
    {
        tree.addDevice({.address = nic,
                        .configSize = 4096,
                        .driver = "e1000e",
                        .iommuGroup = 13,
                        .resetMethods = {"pm", "bus"}});
        tree.addDevice({.address = edu,
                        .vendorId = 0x1234,
                        .deviceId = 0x11e8,
                        .classCode = 0x00ff00,
                        .iommuGroup = 13});
    }

    std::string attr(const char* address, const std::string& name) const
    {
        return "bus/pci/devices/" + std::string(address) + "/" + name;
    }

    SysfsTree tree;
    LinuxHost host{tree.roots()};
};

template <typename Call>
void expectInvalidArgument(Call call)
{
    try
    {
        call();
        ADD_FAILURE() << "no exception";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
    }
}

template <typename Call>
int errnoOf(Call call)
{
    try
    {
        call();
    }
    catch (const std::system_error& e)
    {
        return e.code().value();
    }
    return 0;
}

TEST_F(LinuxHostTest, IsTheLinuxBackend)
{
    EXPECT_EQ(host.backend(), "linux");
    EXPECT_EQ(host.roots().sysfs, tree.sysDir().string());
}

TEST_F(LinuxHostTest, TreeLinksLookLikeTheKernels)
{
    namespace fs = std::filesystem;
    fs::path dev = tree.sysDir() / "devices/pci0000:00" / nic;
    EXPECT_EQ(fs::read_symlink(tree.sysDir() / "bus/pci/devices" / nic),
              fs::path("../../../devices/pci0000:00") / nic);
    EXPECT_EQ(fs::read_symlink(dev / "driver"),
              fs::path("../../../bus/pci/drivers/e1000e"));
    EXPECT_EQ(fs::read_symlink(dev / "iommu_group"),
              fs::path("../../../kernel/iommu_groups/13"));
    EXPECT_EQ(fs::read_symlink(tree.sysDir() /
                               "kernel/iommu_groups/13/devices" / nic),
              fs::path("../../../../devices/pci0000:00") / nic);
    EXPECT_TRUE(fs::exists(tree.sysDir() / "bus/pci/drivers/e1000e/unbind"));
    EXPECT_TRUE(fs::exists(tree.sysDir() / "bus/pci/drivers_probe"));
}

TEST_F(LinuxHostTest, ReadReturnsTheAttributeWithItsNewline)
{
    EXPECT_EQ(host.read(attr(nic, "vendor")), "0x8086\n");
    EXPECT_EQ(host.read(attr(edu, "class")), "0x00ff00\n");
    EXPECT_EQ(host.read(attr(nic, "driver_override")), "(null)\n");
    EXPECT_EQ(host.read(attr(nic, "reset_method")), "pm bus\n");
}

TEST_F(LinuxHostTest, ReadOfAMissingFileIsNullopt)
{
    EXPECT_EQ(host.read(attr(nic, "sriov_numvfs")), std::nullopt);
    EXPECT_EQ(host.read("bus/pci/devices/0000:09:00.0/vendor"), std::nullopt);
}

TEST_F(LinuxHostTest, ReadsBinaryConfigSpaceCompletely)
{
    std::optional<std::string> config = host.read(attr(nic, "config"));
    ASSERT_TRUE(config);
    ASSERT_EQ(config->size(), 4096u);
    EXPECT_EQ(static_cast<uint8_t>((*config)[0]), 0x86);
    EXPECT_EQ(static_cast<uint8_t>((*config)[1]), 0x80);
    EXPECT_EQ((*config)[0x0e], 0);
}

TEST_F(LinuxHostTest, ReadErrorsOtherThanEnoentThrow)
{
    // A directory opens fine but read(2) fails with EISDIR.
    EXPECT_EQ(
        errnoOf([&] { host.read("bus/pci/devices/" + std::string(nic)); }),
        EISDIR);
    try
    {
        host.read("bus/pci");
    }
    catch (const std::system_error& e)
    {
        EXPECT_THAT(e.what(), HasSubstr("read "));
        EXPECT_THAT(e.what(), HasSubstr("/bus/pci"));
    }
}

TEST_F(LinuxHostTest, WriteReplacesAPlainFile)
{
    host.write(attr(nic, "driver_override"), "vfio-pci");
    EXPECT_EQ(tree.readAttr(nic, "driver_override"), "vfio-pci");
    host.write("bus/pci/drivers_probe", nic);
    EXPECT_EQ(tree.readFile("bus/pci/drivers_probe"), nic);
    host.write(attr(nic, "driver_override"), "\n");
    EXPECT_EQ(tree.readAttr(nic, "driver_override"), "\n");
}

TEST_F(LinuxHostTest, WriteNeverCreatesFiles)
{
    std::string path = "bus/pci/drivers/vfio-pci/bind";
    int error = errnoOf([&] { host.write(path, nic); });
    EXPECT_EQ(error, ENOENT);
    EXPECT_FALSE(std::filesystem::exists(tree.sysDir() / path));
    try
    {
        host.write(path, nic);
    }
    catch (const std::system_error& e)
    {
        EXPECT_THAT(e.what(), HasSubstr("write "));
        EXPECT_THAT(e.what(), HasSubstr(path));
    }
}

TEST_F(LinuxHostTest, WriteToAFifoBlocksUntilItIsRead)
{
    const std::string unbind = "bus/pci/drivers/e1000e/unbind";
    tree.makeFifo(unbind);
    std::promise<pid_t> tid;
    auto writer = std::async(std::launch::async, [&] {
        tid.set_value(threadId());
        host.write(unbind, nic);
    });
    // Like an unbind from vfio-pci while a VM holds the device: the writer
    // sleeps in open(2), waiting for a reader.
    waitUntilBlockedIn(tid.get_future().get(), fifoOpen);
    EXPECT_EQ(writer.wait_for(0ms), std::future_status::timeout);

    std::string fifo = (tree.sysDir() / unbind).string();
    int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_NO_THROW(writer.get());
    char buffer[64] = {};
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    ::close(fd);
    EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0), nic);
}

TEST_F(LinuxHostTest, ReleasedFifoCollectsWrites)
{
    const std::string unbind = "bus/pci/drivers/e1000e/unbind";
    tree.makeFifo(unbind);
    std::promise<pid_t> tid;
    auto writer = std::async(std::launch::async, [&] {
        tid.set_value(threadId());
        host.write(unbind, nic);
    });
    waitUntilBlockedIn(tid.get_future().get(), fifoOpen);
    EXPECT_EQ(writer.wait_for(0ms), std::future_status::timeout);
    tree.releaseFifo(unbind);
    writer.get();
    EXPECT_EQ(tree.fifoContents(unbind), nic);
}

TEST_F(LinuxHostTest, ReadLinkNameGivesTheLastComponent)
{
    EXPECT_EQ(host.readLinkName(attr(nic, "driver")), "e1000e");
    EXPECT_EQ(host.readLinkName(attr(nic, "iommu_group")), "13");
    EXPECT_EQ(host.readLinkName("bus/pci/devices/" + std::string(nic)), nic);
    EXPECT_EQ(host.readLinkName(attr(edu, "driver")), std::nullopt);
    // Not a link at all: readlink says EINVAL.
    EXPECT_EQ(host.readLinkName(attr(nic, "vendor")), std::nullopt);
}

TEST_F(LinuxHostTest, ListIsSortedWithoutDots)
{
    tree.addDevice({.address = "0000:00:1f.3"});
    EXPECT_THAT(host.list("bus/pci/devices"),
                ElementsAre("0000:00:1f.3", nic, edu));
    EXPECT_THAT(
        host.list("bus/pci/drivers/e1000e"),
        ElementsAre(nic, "bind", "module", "new_id", "remove_id", "unbind"));
    EXPECT_TRUE(host.list("bus/pci/drivers/vfio-pci").empty());
    EXPECT_TRUE(host.list(attr(nic, "vendor")).empty());
}

TEST_F(LinuxHostTest, ExistsFollowsLinks)
{
    EXPECT_TRUE(host.exists(attr(nic, "vendor")));
    EXPECT_TRUE(host.exists(attr(nic, "driver")));
    EXPECT_TRUE(host.exists("bus/pci/devices/" + std::string(nic)));
    EXPECT_FALSE(host.exists(attr(edu, "driver")));
    EXPECT_FALSE(host.exists(attr(edu, "reset")));
    EXPECT_TRUE(host.exists(attr(nic, "reset")));

    // A dangling link does not exist, as with stat(2).
    tree.symlink(tree.devicePath(edu) + "/driver",
                 "../../../bus/pci/drivers/gone");
    EXPECT_FALSE(host.exists(attr(edu, "driver")));
    EXPECT_EQ(host.readLinkName(attr(edu, "driver")), "gone");
}

TEST_F(LinuxHostTest, RefusesPathsThatLeaveTheRoot)
{
    const std::string nul("bus\0x", 5);
    for (const std::string& path :
         {std::string("../etc/passwd"), std::string("/etc/passwd"),
          std::string("bus/pci/../../../etc"), std::string("bus/.."),
          std::string(".."), nul})
    {
        SCOPED_TRACE(path);
        expectInvalidArgument([&] { host.read(path); });
        expectInvalidArgument([&] { host.write(path, "1"); });
        expectInvalidArgument([&] { host.readLinkName(path); });
        expectInvalidArgument([&] { host.list(path); });
        expectInvalidArgument([&] { host.exists(path); });
        expectInvalidArgument([&] { host.devNodeExists(path); });
        expectInvalidArgument([&] { host.waitDevNode(path, 0ms); });
    }
    // Dots inside a name are fine.
    EXPECT_EQ(host.read("bus/pci/..hidden"), std::nullopt);
    EXPECT_EQ(host.read("./bus/pci/drivers_probe"), "");
}

TEST_F(LinuxHostTest, ModprobeRunsTheProgramAndCreatesTheDriver)
{
    host.modprobe("vfio_pci");
    EXPECT_TRUE(host.exists("bus/pci/drivers/vfio-pci/bind"));
    EXPECT_EQ(host.readLinkName("module/vfio_pci/drivers/pci:vfio-pci"),
              "vfio-pci");
    // A custom root needs -d (modprobe looks in DIR/lib/modules) and -S.
    EXPECT_THAT(tree.modprobeLog(),
                ElementsAre("-q -d " + tree.root().string() + " -S " +
                            SysfsTree::release + " -- vfio_pci"));
}

TEST_F(LinuxHostTest, ModprobeOfAVariantUsesTheConfiguredDriverName)
{
    tree.setModuleDriver("mlx5_vfio_pci", "mlx5_vfio_pci");
    host.modprobe("mlx5_vfio_pci");
    EXPECT_TRUE(host.exists("bus/pci/drivers/mlx5_vfio_pci/new_id"));
}

TEST_F(LinuxHostTest, ModprobeWithDefaultRootsPassesNoOptions)
{
    LinuxRoots roots = tree.roots();
    roots.modules = "/lib/modules";
    roots.kernelRelease = "";
    LinuxHost plain(roots);
    plain.modprobe("pci_stub");
    EXPECT_THAT(tree.modprobeLog(), ElementsAre("-q -- pci_stub"));
    EXPECT_TRUE(plain.exists("bus/pci/drivers/pci-stub"));
}

TEST_F(LinuxHostTest, ModprobeFailureCarriesTheFirstStderrLine)
{
    tree.failModprobe("vfio_pci", "modprobe: ERROR: could not insert "
                                  "'vfio_pci': Operation not permitted\n"
                                  "second line");
    try
    {
        host.modprobe("vfio_pci");
        ADD_FAILURE() << "modprobe succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_STREQ(e.what(), "modprobe vfio_pci failed: modprobe: ERROR: "
                               "could not insert 'vfio_pci': Operation not "
                               "permitted");
    }
    EXPECT_FALSE(host.exists("bus/pci/drivers/vfio-pci"));
}

TEST_F(LinuxHostTest, SilentModprobeFailureMeansNoSuchModule)
{
    tree.failModprobe("nosuch", "");
    try
    {
        host.modprobe("nosuch");
        ADD_FAILURE() << "modprobe succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
        EXPECT_THAT(e.what(), HasSubstr("modprobe nosuch failed"));
    }
}

TEST_F(LinuxHostTest, ModprobeRefusesBadNamesAndRoots)
{
    expectInvalidArgument([&] { host.modprobe("../evil"); });
    expectInvalidArgument([&] { host.modprobe("a b"); });
    expectInvalidArgument([&] { host.modprobe(""); });
    EXPECT_TRUE(tree.modprobeLog().empty());

    LinuxRoots roots = tree.roots();
    roots.modules = (tree.root() / "modules").string();
    LinuxHost odd(roots);
    expectInvalidArgument([&] { odd.modprobe("vfio_pci"); });
}

TEST_F(LinuxHostTest, ModprobeThatCannotStartFails)
{
    LinuxRoots roots = tree.roots();
    roots.modprobe = (tree.root() / "bin" / "missing").string();
    LinuxHost broken(roots);
    try
    {
        broken.modprobe("vfio_pci");
        ADD_FAILURE() << "modprobe succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_THAT(e.what(), HasSubstr("bin/missing"));
    }
}

TEST_F(LinuxHostTest, ModulesAliasOfTheConfiguredRelease)
{
    EXPECT_EQ(host.modulesAlias(), "");
    const std::string text =
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n";
    tree.setModulesAlias(text);
    EXPECT_EQ(host.modulesAlias(), text);

    LinuxRoots roots = tree.roots();
    roots.kernelRelease = "9.9.9-other";
    EXPECT_EQ(LinuxHost(roots).modulesAlias(), "");
}

TEST_F(LinuxHostTest, DevNodeExists)
{
    EXPECT_FALSE(host.devNodeExists("vfio/12"));
    tree.createDevNode("vfio/12");
    EXPECT_TRUE(host.devNodeExists("vfio/12"));
    EXPECT_FALSE(host.devNodeExists("vfio/13"));
}

TEST_F(LinuxHostTest, WaitDevNodeReturnsAtOnceWhenPresent)
{
    tree.createDevNode("vfio/12");
    EXPECT_TRUE(host.waitDevNode("vfio/12", 0ms));
}

TEST_F(LinuxHostTest, WaitDevNodeWakesUpWhenTheNodeAppears)
{
    // /dev/vfio does not exist yet, as before the vfio module loads. The
    // creator makes it, then the node, each once the waiter sleeps in its
    // poll: the wait must wake for the directory, then for the node.
    pid_t waiter = threadId();
    std::thread creator([&] {
        waitUntilBlockedIn(waiter, inotifyPoll);
        std::filesystem::create_directory(tree.devDir() / "vfio");
        waitUntilBlockedIn(waiter, inotifyPoll);
        tree.createDevNode("vfio/12");
    });
    // noLimit: the API's argument, not a bound on the test.
    bool found = host.waitDevNode("vfio/12", noLimit);
    creator.join();
    EXPECT_TRUE(found);
}

TEST_F(LinuxHostTest, WaitDevNodeWakesUpForANestedNode)
{
    pid_t waiter = threadId();
    std::thread creator([&] {
        waitUntilBlockedIn(waiter, inotifyPoll);
        tree.createDevNode("vfio/devices/vfio0");
    });
    EXPECT_TRUE(host.waitDevNode("vfio/devices/vfio0", noLimit));
    creator.join();
}

TEST_F(LinuxHostTest, WaitDevNodeTimesOut)
{
    tree.createDevNode("vfio/12");
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(host.waitDevNode("vfio/13", 150ms));
    auto waited = std::chrono::steady_clock::now() - start;
    // At least the timeout (it is the thing under test); no upper bound:
    // a wait that never ended would be ended by meson's timeout.
    EXPECT_GE(waited, 150ms);
}

TEST_F(LinuxHostTest, VfioHoldersAreTheOtherProcessesWithANodeOpen)
{
    namespace fs = std::filesystem;
    fs::path vfio = tree.devDir() / "vfio";
    fs::create_directories(vfio / "devices");
    for (const fs::path& node :
         {vfio / "vfio", vfio / "13", vfio / "devices" / "vfio0"})
    {
        std::ofstream{node};
    }
    EXPECT_THAT(host.vfioHolders(), ::testing::IsEmpty());

    // A "VMM": a child that opens the container, the group (twice) and a
    // cdev, says so, and keeps them until the test lets it go.
    int ready[2];
    int release[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
    pid_t vmm = ::fork();
    ASSERT_GE(vmm, 0);
    if (vmm == 0)
    {
        // Only the test's ends: EOF on release comes when the test closes.
        ::close(ready[0]);
        ::close(release[1]);
        ::prctl(PR_SET_NAME, "fake-vmm");
        for (const fs::path& node : {vfio / "vfio", vfio / "13", vfio / "13",
                                     vfio / "devices" / "vfio0"})
        {
            if (::open(node.c_str(), O_RDONLY) < 0)
            {
                ::_exit(1);
            }
        }
        char byte = 1;
        if (::write(ready[1], &byte, 1) != 1)
        {
            ::_exit(1);
        }
        (void)::read(release[0], &byte, 1); // until the test closes it
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release[0]);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    // vfiod's own fds are no hold on anything.
    UniqueFd own(::open((vfio / "13").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(own);

    std::vector<VfioHolder> holders = host.vfioHolders();
    EXPECT_THAT(holders,
                ::testing::UnorderedElementsAre(
                    VfioHolder{vmm, "fake-vmm", "vfio/13"},
                    VfioHolder{vmm, "fake-vmm", "vfio/devices/vfio0"}));

    ::close(release[1]);
    int status = 0;
    ASSERT_EQ(::waitpid(vmm, &status, 0), vmm);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_THAT(host.vfioHolders(), ::testing::IsEmpty());
}

} // namespace
} // namespace vfiod::test
