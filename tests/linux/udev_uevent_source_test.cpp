#include "linux/linux_host.hpp"
#include "linux/udev_uevent_source.hpp"
#include "recording_testbed.hpp"
#include "test_support.hpp"

#include <poll.h>
#include <umockdev.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

// Runs under umockdev-wrapper: its preload library turns libudev's netlink
// socket into one that umockdev_testbed_uevent() feeds, so no real uevent
// is ever received or sent.

namespace vfiod::test
{
namespace
{

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::Key;
using ::testing::Pair;

constexpr const char* nicPath =
    "/sys/devices/pci0000:00/0000:00:11.0/0000:02:00.0";

class UdevUeventSourceTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        if (!underUmockdevWrapper())
        {
            GTEST_SKIP() << "needs umockdev-wrapper (run via meson test)";
        }
    }

    /** @brief Waits for the fd to become readable (no time bound), then
     * drains it. */
    static std::vector<Uevent> waitForEvents(UeventSource& source)
    {
        waitReadable(source.fd());
        return source.receive();
    }

    RecordingTestbed bed{plainRecording};
};

TEST_F(UdevUeventSourceTest, NothingPendingReturnsAtOnce)
{
    UdevUeventSource source;
    EXPECT_GE(source.fd(), 0);
    EXPECT_TRUE(source.receive().empty());
}

TEST_F(UdevUeventSourceTest, ReceivesAPciBindEvent)
{
    LinuxHost host(bed.roots());
    std::unique_ptr<UeventSource> source = host.openUevents();
    umockdev_testbed_uevent(bed.testbed(), nicPath, "bind");

    std::vector<Uevent> events = waitForEvents(*source);
    ASSERT_EQ(events.size(), 1u);
    const Uevent& e = events.front();
    EXPECT_EQ(e.action, "bind");
    EXPECT_EQ(e.subsystem, "pci");
    EXPECT_EQ(e.sysname, "0000:02:00.0");
    EXPECT_EQ(e.devpath, "/devices/pci0000:00/0000:00:11.0/0000:02:00.0");
    // DRIVER comes from the recorded uevent file.
    EXPECT_EQ(e.driver, "e1000e");
    EXPECT_GT(e.seqnum, 0u);
    EXPECT_THAT(e.properties, Contains(Pair("PCI_SLOT_NAME", "0000:02:00.0")));
    EXPECT_THAT(e.properties, Contains(Pair("PCI_ID", "8086:10D3")));
    // The fields with their own members are not repeated.
    EXPECT_THAT(e.properties, ::testing::Not(Contains(Key("ACTION"))));
    EXPECT_THAT(e.properties, ::testing::Not(Contains(Key("DRIVER"))));
    EXPECT_THAT(e.properties, ::testing::Not(Contains(Key("SEQNUM"))));

    EXPECT_TRUE(source->receive().empty());
}

TEST_F(UdevUeventSourceTest, DrainsSeveralEventsInOrder)
{
    UdevUeventSource source;
    umockdev_testbed_uevent(bed.testbed(), nicPath, "unbind");
    umockdev_testbed_uevent(bed.testbed(),
                            "/sys/devices/pci0000:00/0000:00:05.0", "change");

    std::vector<Uevent> events;
    while (events.size() < 2)
    {
        for (Uevent& e : waitForEvents(source))
        {
            events.push_back(std::move(e));
        }
    }
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].action, "unbind");
    EXPECT_EQ(events[0].sysname, "0000:02:00.0");
    EXPECT_EQ(events[1].action, "change");
    EXPECT_EQ(events[1].sysname, "0000:00:05.0");
    EXPECT_LT(events[0].seqnum, events[1].seqnum);
}

TEST_F(UdevUeventSourceTest, OtherSubsystemsAreFilteredOut)
{
    UdevUeventSource source;
    gchar* usb = umockdev_testbed_add_device(
        bed.testbed(), "usb", "usb1", nullptr, "idVendor", "1d6b", nullptr,
        "DEVTYPE", "usb_device", nullptr);
    ASSERT_NE(usb, nullptr);
    umockdev_testbed_uevent(bed.testbed(), usb, "add");
    g_free(usb);
    umockdev_testbed_uevent(bed.testbed(), nicPath, "change");

    // The usb event was sent first: had it passed the filter, it would
    // arrive before the pci one. Everything up to the pci event, then.
    std::vector<Uevent> events;
    while (events.empty() || events.back().subsystem != "pci")
    {
        std::vector<Uevent> more = waitForEvents(source);
        events.insert(events.end(), more.begin(), more.end());
    }
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].subsystem, "pci");
}

} // namespace
} // namespace vfiod::test
