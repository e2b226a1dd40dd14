// The state outlives every SimHost: it is shared through the state
// directory, written through on each change and never left half written.

#include "base/error.hpp"
#include "sim_test_util.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

using namespace std::chrono_literals;

class SimPersistence : public SimFixture
{};

TEST_F(SimPersistence, ChangesSurviveTheInstance)
{
    host->modprobe("vfio_pci");
    host->write("bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci");
    host->write("bus/pci/drivers_probe", "0000:01:00.1");
    host->write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "2");
    host->write("bus/pci/devices/0000:01:00.0/reset_method", "");
    host->write("bus/pci/devices/0000:01:00.0/reset_method", "bus");
    host->write("bus/pci/devices/0000:01:00.0/reset", "1");
    host->write("bus/pci/drivers/e1000e/new_id", "1234 1111");
    host.reset();

    // The host file is ignored once there is state (even a missing one).
    SimHost again("/nonexistent/host.toml", stateDir);
    EXPECT_EQ(again.readLinkName("bus/pci/devices/0000:01:00.1/driver"),
              "vfio-pci");
    EXPECT_EQ(again.read("bus/pci/devices/0000:01:00.1/driver_override"),
              "vfio-pci\n");
    EXPECT_TRUE(again.devNodeExists("vfio/vfio"));
    EXPECT_TRUE(again.devNodeExists("vfio/devices/vfio0"));
    EXPECT_EQ(again.readLinkName("bus/pci/devices/0000:02:02.1/physfn"),
              "0000:02:00.0");
    EXPECT_EQ(again.read("bus/pci/devices/0000:01:00.0/reset_method"), "bus\n");
    EXPECT_EQ(again.read("bus/pci/devices/0000:01:00.0/sim_reset_count"),
              "1\n");
    // The dynamic id survived: a hot-added match binds to e1000e.
    again.hotAdd("address = \"0000:08:00.0\"\nvendor = 0x1234\n"
                 "device = 0x1111\nclass = 0x020000\n");
    EXPECT_EQ(again.readLinkName("bus/pci/devices/0000:08:00.0/driver"),
              "e1000e");
}

TEST_F(SimPersistence, ALinkPlantedAtTheTemporaryNameIsNeverFollowed)
{
    std::string victim = dir.write("victim", "untouched\n");
    ASSERT_EQ(::symlink(victim.c_str(), (stateDir + "/state.tmp").c_str()), 0);
    host->write("bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci");
    EXPECT_EQ(vfiod::test::readFile(victim), "untouched\n");
    SimHost again("", stateDir);
    EXPECT_EQ(again.read("bus/pci/devices/0000:01:00.1/driver_override"),
              "vfio-pci\n");
}

TEST_F(SimPersistence, InstancesSeeEachOthersWrites)
{
    std::unique_ptr<SimHost> other = secondHost();
    EXPECT_EQ(other->stateDir(), stateDir);
    for (int i = 0; i < 5; ++i)
    {
        host->write("bus/pci/devices/0000:01:00.1/driver_override",
                    "drv" + std::to_string(i));
        EXPECT_EQ(other->read("bus/pci/devices/0000:01:00.1/driver_override"),
                  "drv" + std::to_string(i) + "\n");
        other->write("bus/pci/devices/0000:03:00.0/driver_override",
                     "x" + std::to_string(i));
        EXPECT_EQ(read("bus/pci/devices/0000:03:00.0/driver_override"),
                  "x" + std::to_string(i) + "\n");
    }
}

TEST_F(SimPersistence, ReadsTogetherSeeOneMomentAndRefuseChanges)
{
    std::unique_ptr<SimHost> other = secondHost();
    other->write("bus/pci/devices/0000:01:00.1/driver_override", "first");
    std::string seen;
    host->readTogether([&] {
        // Reads in a group (nested ones too) see the state as it is when
        // the group starts, which another instance's write is up to date
        // with; a change from inside the group would deadlock: refused.
        seen = read("bus/pci/devices/0000:01:00.1/driver_override");
        host->readTogether(
            [&] { EXPECT_TRUE(host->exists("bus/pci/devices/0000:01:00.1")); });
        EXPECT_THROW(
            host->write("bus/pci/devices/0000:01:00.1/driver_override", "x"),
            std::logic_error);
        EXPECT_THROW(host->waitDevNode("vfio/1", 10ms), std::logic_error);
    });
    EXPECT_EQ(seen, "first\n");
    // The lock is free again, for this instance and the other one.
    other->write("bus/pci/devices/0000:01:00.1/driver_override", "second");
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.1/driver_override"), "second\n");
}

TEST_F(SimPersistence, NoStateAndNoHostFileIsAnError)
{
    TempDir empty;
    EXPECT_THROW(SimHost("", empty.path() + "/state"), Error);
}

TEST_F(SimPersistence, ConcurrentWritersNeverLoseAnUpdate)
{
    // Two instances flip overrides on different devices from two threads;
    // every write must land.
    auto worker = [this](const std::string& address) {
        SimHost mine("", stateDir);
        for (int i = 0; i < 40; ++i)
        {
            mine.write("bus/pci/devices/" + address + "/driver_override",
                       std::to_string(i));
        }
    };
    std::thread a(worker, "0000:01:00.1");
    std::thread b(worker, "0000:03:00.0");
    a.join();
    b.join();
    EXPECT_EQ(read("bus/pci/devices/0000:01:00.1/driver_override"), "39\n");
    EXPECT_EQ(read("bus/pci/devices/0000:03:00.0/driver_override"), "39\n");
}

TEST_F(SimPersistence, KillNineLeavesAConsistentState)
{
    for (int round = 0; round < 4; ++round)
    {
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0)
        {
            try
            {
                SimHost mine("", stateDir);
                for (int i = 0;; ++i)
                {
                    mine.write("bus/pci/devices/0000:02:00.0/sriov_numvfs",
                               i % 2 == 0 ? "4" : "0");
                }
            }
            catch (...)
            {
                ::_exit(1); // never fall back into gtest in the child
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + round * 7));
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        // Whatever moment it died at, the state parses and is coherent.
        SimHost after("", stateDir);
        std::string numVfs =
            after.read("bus/pci/devices/0000:02:00.0/sriov_numvfs").value();
        ASSERT_TRUE(numVfs == "0\n" || numVfs == "4\n") << numVfs;
        EXPECT_EQ(after.exists("bus/pci/devices/0000:02:02.3"),
                  numVfs == "4\n");
        // And the log can still be tailed and appended to.
        std::unique_ptr<UeventSource> source = after.openUevents();
        after.write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "0");
        after.write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "1");
        after.write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "0");
        std::vector<Uevent> events = source->receive();
        ASSERT_GE(events.size(), 4u);
        EXPECT_EQ(events[events.size() - 4].action, "add");
        EXPECT_EQ(events[events.size() - 3].action, "bind");
        EXPECT_EQ(events.back().action, "remove");
    }
}

TEST_F(SimPersistence, HoldsManyDevicesAcrossInstances)
{
    // ~4096 functions, seen the same by two instances on one state dir.
    std::string text = testHost;
    for (int bus = 0x20; bus < 0x30; ++bus)
    {
        for (int dev = 0; dev < 32; ++dev)
        {
            for (int fn = 0; fn < 8; ++fn)
            {
                char buf[200];
                std::snprintf(buf, sizeof buf,
                              "[[device]]\naddress = \"0000:%02x:%02x.%d\"\n"
                              "vendor = 0x8086\ndevice = 0x10d3\n"
                              "class = 0x020000\niommu_group = %d\n"
                              "driver = \"e1000e\"\nreset_methods = "
                              "[\"flr\"]\n",
                              bus, dev, fn, 100 + bus * 256 + dev * 8 + fn);
                text += buf;
            }
        }
    }
    TempDir big;
    SimHost many(big.write("host.toml", text), big.path() + "/state");
    ASSERT_EQ(many.list("bus/pci/devices").size(), 8u + 4096u);
    SimHost other("", big.path() + "/state");
    for (int i = 0; i < 10; ++i)
    {
        many.write("bus/pci/drivers/e1000e/unbind", "0000:2f:1f.7");
        EXPECT_EQ(other.readLinkName("bus/pci/devices/0000:2f:1f.7/driver"),
                  std::nullopt);
        other.write("bus/pci/drivers/e1000e/bind", "0000:2f:1f.7");
    }
    // How fast this is belongs to bench/, not to a timed test.
}

} // namespace
} // namespace vfiod::simtest
