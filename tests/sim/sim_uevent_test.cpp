// The uevent log: order, fields, and delivery to every process.

#include "sim_test_util.hpp"

#include <poll.h>

#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

class SimUevents : public SimFixture
{};

std::string brief(const Uevent& e)
{
    std::string out = e.action + " " + e.subsystem + " " + e.sysname;
    if (!e.driver.empty())
    {
        out += " DRIVER=" + e.driver;
    }
    return out;
}

std::vector<std::string> briefs(const std::vector<Uevent>& events)
{
    std::vector<std::string> out;
    for (const Uevent& e : events)
    {
        out.push_back(brief(e));
    }
    return out;
}

bool readable(int fd, int timeoutMs)
{
    struct pollfd p = {fd, POLLIN, 0};
    return ::poll(&p, 1, timeoutMs) == 1;
}

TEST_F(SimUevents, VfioBindAndUnbindComeInKernelOrder)
{
    host->modprobe("vfio_pci");
    std::unique_ptr<UeventSource> source = host->openUevents();
    bindToVfio("0000:01:00.0");
    bindToVfio("0000:01:00.1");
    host->write("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0");
    host->write("bus/pci/drivers/vfio-pci/unbind", "0000:01:00.1");
    std::vector<Uevent> events = source->receive();
    EXPECT_EQ(briefs(events), (std::vector<std::string>{
                                  "unbind pci 0000:01:00.0",
                                  "add vfio 1",
                                  "add vfio-dev vfio0",
                                  "bind pci 0000:01:00.0 DRIVER=vfio-pci",
                                  "add vfio-dev vfio1",
                                  "bind pci 0000:01:00.1 DRIVER=vfio-pci",
                                  "remove vfio-dev vfio0",
                                  "unbind pci 0000:01:00.0",
                                  "remove vfio-dev vfio1",
                                  "remove vfio 1",
                                  "unbind pci 0000:01:00.1",
                              }));
    for (size_t i = 1; i < events.size(); ++i)
    {
        EXPECT_EQ(events[i].seqnum, events[i - 1].seqnum + 1);
    }
    EXPECT_EQ(events[0].devpath, "/devices/pci0000:01/0000:01:00.0");
    EXPECT_EQ(events[0].properties.at("PCI_ID"), "8086:10D3");
    EXPECT_EQ(events[0].properties.at("PCI_SLOT_NAME"), "0000:01:00.0");
    EXPECT_EQ(events[1].properties.at("DEVNAME"), "vfio/1");
    EXPECT_EQ(events[2].properties.at("DEVNAME"), "vfio/devices/vfio0");
    EXPECT_TRUE(source->receive().empty());
}

TEST_F(SimUevents, SriovAddsAndRemovesVfs)
{
    std::unique_ptr<UeventSource> source = host->openUevents();
    host->write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "2");
    host->write("bus/pci/devices/0000:02:00.0/sriov_numvfs", "0");
    EXPECT_EQ(briefs(source->receive()),
              (std::vector<std::string>{
                  "add pci 0000:02:02.0",
                  "bind pci 0000:02:02.0 DRIVER=iavf",
                  "add pci 0000:02:02.1",
                  "bind pci 0000:02:02.1 DRIVER=iavf",
                  "unbind pci 0000:02:02.0",
                  "remove pci 0000:02:02.0",
                  "unbind pci 0000:02:02.1",
                  "remove pci 0000:02:02.1",
              }));
}

TEST_F(SimUevents, FdWakesForChangesMadeByAnotherProcess)
{
    std::unique_ptr<UeventSource> source = host->openUevents();
    EXPECT_FALSE(readable(source->fd(), 0));
    std::unique_ptr<SimHost> other = secondHost();
    other->write("bus/pci/drivers/e1000e/unbind", "0000:01:00.0");
    // The append to the log queued the inotify event before the write
    // returned: readable at once, nothing to wait for.
    ASSERT_TRUE(readable(source->fd(), 0));
    EXPECT_EQ(briefs(source->receive()),
              std::vector<std::string>{"unbind pci 0000:01:00.0"});
    EXPECT_FALSE(readable(source->fd(), 0));
    EXPECT_TRUE(source->receive().empty());
    other->write("bus/pci/drivers/e1000e/bind", "0000:01:00.0");
    ASSERT_TRUE(readable(source->fd(), 0));
    EXPECT_EQ(briefs(source->receive()),
              std::vector<std::string>{"bind pci 0000:01:00.0 DRIVER=e1000e"});
}

TEST_F(SimUevents, SourcesOnlySeeEventsFromTheirStart)
{
    host->write("bus/pci/drivers/e1000e/unbind", "0000:01:00.0");
    std::unique_ptr<UeventSource> source = host->openUevents();
    EXPECT_TRUE(source->receive().empty());
    host->hotRemove(PciAddress::parse("0000:01:00.1"));
    EXPECT_EQ(briefs(source->receive()),
              std::vector<std::string>{"remove pci 0000:01:00.1"});
}

} // namespace
} // namespace vfiod::simtest
