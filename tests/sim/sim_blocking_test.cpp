// Writes the kernel blocks: an unbind from vfio waits for the last close,
// slow unbinds and resets, and SR-IOV disable or removal of open devices.
// The waiting side holds no lock, so other processes carry on meanwhile.
//
// No sleeps: a test waits for the simulated kernel to show the operation
// pending (waitForPending, on the state directory's inotify watch) or for
// a writer to begin waiting behind it (KernelWaits). A delay that must not
// hold locks is one of ten minutes, on a writer in a child process killed
// at the end: whatever the test does meanwhile happens while it is
// provably still pending.

#include "base/error.hpp"
#include "pci/pci_device.hpp"
#include "sim_test_util.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SimBlocking : public SimFixture
{
  protected:
    /** @brief Runs @p write on its own thread. */
    std::future<int> start(const std::string& path, const std::string& value)
    {
        return std::async(std::launch::async, [this, path, value] {
            return writeErrno(path, value);
        });
    }

    static bool stillRunning(std::future<int>& f)
    {
        return f.wait_for(0ms) == std::future_status::timeout;
    }

    /** @brief Writes from a child process of its own; exits 0 on success. */
    pid_t writeInChild(const std::string& path, const std::string& value)
    {
        pid_t child = ::fork();
        if (child == 0)
        {
            try
            {
                SimHost mine("", stateDir);
                mine.write(path, value);
                ::_exit(0);
            }
            catch (...)
            {
                ::_exit(1); // never fall back into gtest in the child
            }
        }
        return child;
    }

    /** @brief SIGKILLs and reaps @p child; true when the signal ended it. */
    static bool killChild(pid_t child)
    {
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        return WIFSIGNALED(status);
    }

    /** @brief Hot-adds 07:00.0 on e1000e, whose unbind and reset each take
     * ten minutes (the simulation's longest delay). */
    void addSlowDevice()
    {
        host->hotAdd(R"(address = "0000:07:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 7
reset_methods = ["flr"]
unbind_delay_ms = 600000
reset_delay_ms = 600000
)");
        ASSERT_EQ(driverOf("0000:07:00.0"), "e1000e");
    }

    const PciAddress vfioDevice = PciAddress::parse("0000:01:00.0");
    const PciAddress slowDevice = PciAddress::parse("0000:07:00.0");
};

TEST_F(SimBlocking, UnbindWaitsForTheLastCloseFromAnotherProcess)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    host->openDevice(vfioDevice);
    std::unique_ptr<UeventSource> source = host->openUevents();

    std::future<int> unbind =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    waitForPending(stateDir, vfioDevice);
    ASSERT_TRUE(stillRunning(unbind));

    // Nothing is locked meanwhile: another process reads and writes.
    std::unique_ptr<SimHost> other = secondHost();
    EXPECT_EQ(other->readLinkName("bus/pci/devices/0000:01:00.0/driver"),
              "vfio-pci");
    EXPECT_EQ(
        writeErrnoOn(*other, "bus/pci/drivers/e1000e/unbind", "0000:06:00.0"),
        0);

    other->closeDevice(vfioDevice);
    // One opener left: the kernel keeps the unbind pending.
    EXPECT_TRUE(pendingIn(stateDir, vfioDevice));
    EXPECT_TRUE(stillRunning(unbind));
    other->closeDevice(vfioDevice);
    // The last close finishes the unbind in the kernel, and its writer
    // returns (how soon it notices: bench/README.md, "Simulated kernel").
    EXPECT_FALSE(pendingIn(stateDir, vfioDevice));
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_EQ(driverOf("0000:01:00.0"), "");
    EXPECT_FALSE(host->devNodeExists("vfio/1"));

    std::vector<Uevent> events = source->receive();
    ASSERT_GE(events.size(), 4u);
    EXPECT_EQ(events[0].action + events[0].sysname, "unbind0000:06:00.0");
    EXPECT_EQ(events[1].action + events[1].subsystem, "removevfio-dev");
    EXPECT_EQ(events[2].action + events[2].subsystem, "removevfio");
    EXPECT_EQ(events[3].action + events[3].sysname, "unbind0000:01:00.0");
}

TEST_F(SimBlocking, OtherWritesToTheDeviceWaitForTheDeviceLock)
{
    KernelWaits waits; // outlives the writers below
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    std::future<int> unbind =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    waitForPending(stateDir, vfioDevice);
    // driver_override takes the device lock in the kernel: it waits too.
    std::future<int> override =
        start("bus/pci/devices/0000:01:00.0/driver_override", "\n");
    // A second unbind also waits, then succeeds.
    std::future<int> second =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    // Reading driver_override takes the device lock as well
    // (driver_override_show): a reader sits in D state like the writers.
    std::future<std::string> reader = std::async(std::launch::async, [this] {
        return read("bus/pci/devices/0000:01:00.0/driver_override");
    });
    // Four wait on the device: the unbind and the three behind it.
    waits.waitFor("0000:01:00.0", 4);
    EXPECT_TRUE(stillRunning(override));
    EXPECT_TRUE(stillRunning(second));
    EXPECT_EQ(reader.wait_for(0ms), std::future_status::timeout);
    // What does not take the lock is read at once, in one group too.
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/vendor"), "0x8086\n");
    EXPECT_EQ(host->readLinkName("bus/pci/devices/0000:01:00.0/driver"),
              "vfio-pci");
    PciDevice skipping = readPciDevice(*host, vfioDevice, LockedReads::Skip);
    EXPECT_EQ(skipping.driver, "vfio-pci");
    EXPECT_EQ(skipping.driverOverride, "");
    // Opening a device on its way out is refused.
    EXPECT_THROW(secondHost()->openDevice(vfioDevice), Error);
    secondHost()->closeDevice(vfioDevice);
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_EQ(override.get(), 0);
    EXPECT_EQ(second.get(), 0);
    // The reader got the lock after one of the writers: either value.
    std::string seen = reader.get();
    EXPECT_TRUE(seen == "vfio-pci\n" || seen == "(null)\n") << seen;
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/driver_override"), "(null)\n");
}

TEST_F(SimBlocking, UnbindTakesItsDelay)
{
    auto begin = Clock::now();
    EXPECT_EQ(writeErrno("bus/pci/drivers/e1000e/unbind", "0000:06:00.0"), 0);
    EXPECT_GE(Clock::now() - begin, 150ms); // at least: no upper bound
    EXPECT_EQ(driverOf("0000:06:00.0"), "");
}

TEST_F(SimBlocking, UnbindDelayIsSpentWithoutLocks)
{
    addSlowDevice();
    pid_t writer =
        writeInChild("bus/pci/drivers/e1000e/unbind", "0000:07:00.0");
    ASSERT_GT(writer, 0);
    waitForPending(stateDir, slowDevice);
    EXPECT_EQ(driverOf("0000:07:00.0"), "e1000e");
    EXPECT_EQ(writeErrnoOn(*secondHost(), "bus/pci/drivers/e1000e/unbind",
                           "0000:01:00.0"),
              0);
    EXPECT_EQ(driverOf("0000:01:00.0"), "");
    // In that order: the other unbind finished while this one was pending.
    EXPECT_TRUE(pendingIn(stateDir, slowDevice));
    EXPECT_TRUE(killChild(writer));
}

TEST_F(SimBlocking, ResetTakesItsDelay)
{
    const std::string dev = "bus/pci/devices/0000:06:00.0/";
    auto begin = Clock::now();
    EXPECT_EQ(writeErrno(dev + "reset", "1"), 0);
    EXPECT_GE(Clock::now() - begin, 150ms); // at least: no upper bound
    EXPECT_EQ(read(dev + "sim_reset_count"), "1\n");
}

TEST_F(SimBlocking, ResetDelayIsSpentWithoutLocks)
{
    addSlowDevice();
    const std::string dev = "bus/pci/devices/0000:07:00.0/";
    pid_t writer = writeInChild(dev + "reset", "1");
    ASSERT_GT(writer, 0);
    waitForPending(stateDir, slowDevice);
    EXPECT_EQ(read(dev + "sim_reset_count"), "0\n");
    const std::string other = "bus/pci/devices/0000:01:00.0/";
    EXPECT_EQ(writeErrnoOn(*secondHost(), other + "reset", "1"), 0);
    EXPECT_EQ(read(other + "sim_reset_count"), "1\n");
    // In that order: the other reset finished while this one was pending.
    EXPECT_TRUE(pendingIn(stateDir, slowDevice));
    EXPECT_TRUE(killChild(writer));
}

TEST_F(SimBlocking, DisablingSriovWaitsForOpenVfs)
{
    const std::string pf = "bus/pci/devices/0000:02:00.0/";
    host->write(pf + "sriov_drivers_autoprobe", "0");
    host->write(pf + "sriov_numvfs", "2");
    bindToVfio("0000:02:02.1");
    PciAddress vf = PciAddress::parse("0000:02:02.1");
    host->openDevice(vf);
    std::future<int> disable = start(pf + "sriov_numvfs", "0");
    waitForPending(stateDir, PciAddress::parse("0000:02:00.0"));
    ASSERT_TRUE(stillRunning(disable));
    EXPECT_TRUE(host->exists("bus/pci/devices/0000:02:02.1"));
    secondHost()->closeDevice(vf);
    EXPECT_EQ(disable.get(), 0);
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:02:02.1"));
    EXPECT_EQ(read(pf + "sriov_numvfs"), "0\n");
}

TEST_F(SimBlocking, HotRemoveWaitsForTheClose)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    auto removal =
        std::async(std::launch::async, [this] { host->hotRemove(vfioDevice); });
    waitForPending(stateDir, vfioDevice);
    ASSERT_EQ(removal.wait_for(0ms), std::future_status::timeout);
    EXPECT_TRUE(host->exists("bus/pci/devices/0000:01:00.0"));
    secondHost()->closeDevice(vfioDevice);
    removal.get();
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:01:00.0"));
}

TEST_F(SimBlocking, TheKernelFinishesAnUnbindWhoseWriterWasKilled)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    pid_t child =
        writeInChild("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    ASSERT_GE(child, 0);
    // Once the unbind is pending the child is stuck in it: kill it there.
    waitForPending(stateDir, vfioDevice);
    ASSERT_TRUE(killChild(child));
    EXPECT_EQ(driverOf("0000:01:00.0"), "vfio-pci");
    host->closeDevice(vfioDevice);
    EXPECT_EQ(driverOf("0000:01:00.0"), "");
}

} // namespace
} // namespace vfiod::simtest
