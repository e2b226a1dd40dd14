// The vfiod-sim tool, run as a separate process on a shared state.

#include "sim_test_util.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct Result
{
    int status = -1;
    std::string out;
    std::string err;
};

class SimTool : public SimFixture
{
  protected:
    Result run(const std::string& args)
    {
        static int counter = 0;
        std::string base = dir.path() + "/run" + std::to_string(counter++);
        std::string command = tool() + " --state '" + stateDir + "' " + args +
                              " >'" + base + ".out' 2>'" + base + ".err'";
        int status = std::system(command.c_str());
        Result r;
        r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out = vfiod::test::readFile(base + ".out");
        r.err = vfiod::test::readFile(base + ".err");
        return r;
    }

    static std::string tool()
    {
        return vfiod::test::requiredEnv("VFIOD_SIM_TOOL");
    }
};

TEST_F(SimTool, InitListAndShow)
{
    TempDir other;
    std::string fresh = other.path() + "/state";
    std::string command =
        tool() + " --state '" + fresh + "' --host '" + hostFile + "' init";
    ASSERT_EQ(std::system(command.c_str()), 0);
    SimHost created("", fresh);
    EXPECT_TRUE(created.exists("bus/pci/devices/0000:01:00.0"));

    Result list = run("list");
    EXPECT_EQ(list.status, 0) << list.err;
    EXPECT_THAT(list.out, HasSubstr("0000:01:00.0  8086:10d3  020000  e1000e"));
    Result show = run("show 01:00.0");
    EXPECT_EQ(show.status, 0) << show.err;
    EXPECT_THAT(show.out, HasSubstr("driver -> e1000e\n"));
    EXPECT_THAT(show.out, HasSubstr("reset_method: flr pm bus\n"));
    EXPECT_THAT(show.out, HasSubstr("reset: (write-only)\n"));
}

TEST_F(SimTool, ErrorsNameTheErrno)
{
    Result bound = run("bind 0000:01:00.0 e1000e");
    EXPECT_EQ(bound.status, 1);
    EXPECT_EQ(bound.err, "vfiod-sim: write bus/pci/drivers/e1000e/bind: "
                         "EBUSY (Device or resource busy)\n");
    Result range = run("set-numvfs 0000:02:00.0 9");
    EXPECT_EQ(range.status, 1);
    EXPECT_THAT(range.err, HasSubstr("ERANGE"));
    Result unknown = run("frobnicate");
    EXPECT_EQ(unknown.status, 1);
    EXPECT_THAT(unknown.err, HasSubstr("unknown command"));
}

TEST_F(SimTool, DrivesTheSameKernelAsTheLibrary)
{
    ASSERT_EQ(run("modprobe vfio_pci").status, 0);
    ASSERT_EQ(run("override 0000:01:00.1 vfio-pci").status, 0);
    ASSERT_EQ(run("probe 0000:01:00.1").status, 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "vfio-pci");
    EXPECT_EQ(run("read bus/pci/devices/0000:01:00.1/driver_override").out,
              "vfio-pci\n");
    ASSERT_EQ(run("write /sys/bus/pci/devices/0000:01:00.1/driver_override "
                  "''")
                  .status,
              0);
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.1/driver_override"), "(null)\n");

    // A process opens the device; the library's unbind blocks until the
    // tool closes it from yet another process.
    // 01:00.0 on e1000e would keep the group from being viable.
    ASSERT_EQ(run("unbind 0000:01:00.0").status, 0);
    Result open = run("open 0000:01:00.1");
    ASSERT_EQ(open.status, 0) << open.err;
    auto unbind = std::async(std::launch::async, [this] {
        return writeErrno("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.1");
    });
    waitForPending(stateDir, PciAddress::parse("0000:01:00.1"));
    ASSERT_EQ(unbind.wait_for(0ms), std::future_status::timeout);
    ASSERT_EQ(run("close 0000:01:00.1").status, 0);
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_EQ(driverOf("0000:01:00.1"), "");

    Result events = run("events");
    EXPECT_THAT(events.out, HasSubstr("add vfio 1 /devices/virtual/vfio/1\n"));
    EXPECT_THAT(events.out, HasSubstr("remove vfio 1"));
    EXPECT_THAT(events.out, HasSubstr("DRIVER=vfio-pci"));

    ASSERT_EQ(run("add 'address = \"0000:07:00.0\"\nvendor = 0x8086\n"
                  "device = 0x10d3\nclass = 0x020000\niommu_group = 7'")
                  .status,
              0);
    EXPECT_EQ(driverOf("0000:07:00.0"), "e1000e");
    ASSERT_EQ(run("unbind 0000:07:00.0").status, 0);
    ASSERT_EQ(run("bind 0000:07:00.0 igb").status, 0);
    EXPECT_EQ(driverOf("0000:07:00.0"), "igb");
    ASSERT_EQ(run("remove 0000:07:00.0").status, 0);
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:07:00.0"));
    ASSERT_EQ(run("reset 0000:01:00.0").status, 0);
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/sim_reset_count"), "1\n");
}

/** @brief Runs the tool with @p env: whether SIGKILL ended it, and its
 *  standard error. */
std::pair<bool, std::string> runKilled(const std::string& env,
                                       const std::string& tool,
                                       const std::string& stateDir,
                                       const std::string& args,
                                       const std::string& errFile)
{
    // exec: the shell's status would hide how the tool ended.
    std::string command = "exec env " + env + " " + tool + " --state '" +
                          stateDir + "' " + args + " 2>'" + errFile + "'";
    int status = std::system(command.c_str());
    bool killed = (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                  (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
    return {killed, vfiod::test::readFile(errFile)};
}

TEST_F(SimTool, TheKillPointKillsAtTheChosenStepAndOnlyThere)
{
    const std::string override = "bus/pci/devices/0000:01:00.0/driver_override";
    std::string err = dir.path() + "/kill.err";
    // Counting only: every step on standard error, nothing killed.
    auto [killed, log] = runKilled("VFIOD_SIM_KILL_AT=0", tool(), stateDir,
                                   "override 0000:01:00.0 vfio-pci", err);
    EXPECT_FALSE(killed);
    EXPECT_THAT(log, HasSubstr("vfiod-sim kill point: step 1: write " +
                               override + "\n"));
    EXPECT_EQ(read(override), "vfio-pci\n");

    // Before: the write never reached the kernel.
    std::tie(killed, log) =
        runKilled("VFIOD_SIM_KILL_AT=1 VFIOD_SIM_KILL_WHEN=before", tool(),
                  stateDir, "override 0000:01:00.0 ''", err);
    EXPECT_TRUE(killed) << log;
    EXPECT_EQ(read(override), "vfio-pci\n");

    // After: the kernel has it, and an unbind that takes a while is left
    // in flight, finished without its writer.
    std::tie(killed, log) = runKilled("VFIOD_SIM_KILL_AT=1", tool(), stateDir,
                                      "unbind 0000:06:00.0", err);
    EXPECT_TRUE(killed) << log;
    EXPECT_TRUE(pendingIn(stateDir, PciAddress::parse("0000:06:00.0")));
    EXPECT_EQ(read("bus/pci/devices/0000:06:00.0/driver_override"), "(null)\n");
    // A write waits for the device lock of the unbind in flight.
    host->write("bus/pci/devices/0000:06:00.0/driver_override", "\n");
    EXPECT_FALSE(pendingIn(stateDir, PciAddress::parse("0000:06:00.0")));
    EXPECT_FALSE(host->readLinkName("bus/pci/devices/0000:06:00.0/driver"));

    // Without the variable, the hook is inert and silent.
    Result plain = run("override 0000:01:00.0 ''");
    EXPECT_EQ(plain.status, 0);
    EXPECT_EQ(plain.err, "");
    EXPECT_EQ(read(override), "(null)\n");
}

} // namespace
} // namespace vfiod::simtest
