// Writes the kernel blocks: an unbind from vfio waits for the last close,
// slow unbinds and resets, and SR-IOV disable or removal of open devices.
// The waiting side holds no lock, so other processes carry on meanwhile.

#include "base/error.hpp"
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

    const PciAddress vfioDevice = PciAddress::parse("0000:01:00.0");
};

TEST_F(SimBlocking, UnbindWaitsForTheLastCloseFromAnotherProcess)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    host->openDevice(vfioDevice);
    std::unique_ptr<UeventSource> source = host->openUevents();

    std::future<int> unbind =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(stillRunning(unbind));

    // Nothing is locked meanwhile: another process reads and writes.
    std::unique_ptr<SimHost> other = secondHost();
    EXPECT_EQ(other->readLinkName("bus/pci/devices/0000:01:00.0/driver"),
              "vfio-pci");
    EXPECT_EQ(
        writeErrnoOn(*other, "bus/pci/drivers/e1000e/unbind", "0000:06:00.0"),
        0);

    other->closeDevice(vfioDevice);
    std::this_thread::sleep_for(60ms);
    EXPECT_TRUE(stillRunning(unbind)); // one opener left
    auto closed = Clock::now();
    other->closeDevice(vfioDevice);
    ASSERT_EQ(unbind.wait_for(1s), std::future_status::ready);
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_LT(Clock::now() - closed, 500ms);
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
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    std::future<int> unbind =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    std::this_thread::sleep_for(50ms);
    // driver_override takes the device lock in the kernel: it waits too.
    std::future<int> override =
        start("bus/pci/devices/0000:01:00.0/driver_override", "\n");
    // A second unbind also waits, then succeeds.
    std::future<int> second =
        start("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    std::this_thread::sleep_for(60ms);
    EXPECT_TRUE(stillRunning(override));
    EXPECT_TRUE(stillRunning(second));
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/driver_override"),
              "vfio-pci\n");
    // Opening a device on its way out is refused.
    EXPECT_THROW(secondHost()->openDevice(vfioDevice), Error);
    secondHost()->closeDevice(vfioDevice);
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_EQ(override.get(), 0);
    EXPECT_EQ(second.get(), 0);
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.0/driver_override"), "(null)\n");
}

TEST_F(SimBlocking, UnbindDelayIsSpentWithoutLocks)
{
    auto begin = Clock::now();
    std::future<int> unbind =
        start("bus/pci/drivers/e1000e/unbind", "0000:06:00.0");
    std::this_thread::sleep_for(40ms);
    ASSERT_TRUE(stillRunning(unbind));
    EXPECT_EQ(driverOf("0000:06:00.0"), "e1000e");
    EXPECT_EQ(writeErrnoOn(*secondHost(), "bus/pci/drivers/e1000e/unbind",
                           "0000:01:00.0"),
              0);
    EXPECT_EQ(unbind.get(), 0);
    EXPECT_GE(Clock::now() - begin, 150ms);
    EXPECT_EQ(driverOf("0000:06:00.0"), "");
}

TEST_F(SimBlocking, ResetDelayIsSpentWithoutLocks)
{
    const std::string dev = "bus/pci/devices/0000:06:00.0/";
    auto begin = Clock::now();
    std::future<int> reset = start(dev + "reset", "1");
    std::this_thread::sleep_for(40ms);
    ASSERT_TRUE(stillRunning(reset));
    EXPECT_EQ(read(dev + "sim_reset_count"), "0\n");
    EXPECT_EQ(reset.get(), 0);
    EXPECT_GE(Clock::now() - begin, 150ms);
    EXPECT_EQ(read(dev + "sim_reset_count"), "1\n");
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
    std::this_thread::sleep_for(80ms);
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
    std::this_thread::sleep_for(80ms);
    ASSERT_EQ(removal.wait_for(0ms), std::future_status::timeout);
    secondHost()->closeDevice(vfioDevice);
    removal.get();
    EXPECT_FALSE(host->exists("bus/pci/devices/0000:01:00.0"));
}

TEST_F(SimBlocking, TheKernelFinishesAnUnbindWhoseWriterWasKilled)
{
    bindToVfio("0000:01:00.0");
    host->openDevice(vfioDevice);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0)
    {
        try
        {
            SimHost mine("", stateDir);
            mine.write("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
            ::_exit(0);
        }
        catch (...)
        {
            ::_exit(1); // never fall back into gtest in the child
        }
    }
    // Let the child get stuck in the unbind, then kill it there.
    std::this_thread::sleep_for(150ms);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(driverOf("0000:01:00.0"), "vfio-pci");
    host->closeDevice(vfioDevice);
    EXPECT_EQ(driverOf("0000:01:00.0"), "");
}

} // namespace
} // namespace vfiod::simtest
