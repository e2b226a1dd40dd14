// DeviceManager and the policy fed by real libudev monitor code, on a
// recording of a real kernel's sysfs (umockdev testbed): a bind done
// outside vfiod shows in one event, devices appear and vanish, and a
// device the policy marks is bound as it appears or, when that cannot
// work, keeps its driver and says why.

#include "config/policy.hpp"
#include "linux/linux_host.hpp"
#include "recording_testbed.hpp"
#include "service/device_manager.hpp"
#include "service/device_service.hpp"
#include "test_support.hpp"

#include <poll.h>
#include <umockdev.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using namespace std::chrono_literals;

const PciAddress nic = PciAddress::parse("0000:02:00.0");
constexpr const char* nicPath =
    "/sys/devices/pci0000:00/0000:00:11.0/0000:02:00.0";

class DeviceEventsTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        if (!underUmockdevWrapper())
        {
            GTEST_SKIP() << "needs umockdev-wrapper (run via meson test)";
        }
        LinuxRoots roots = bed.roots();
        // Never this machine's modprobe: a bind attempt must fail inside
        // the test tree.
        roots.modprobe = "/bin/false";
        host = std::make_unique<LinuxHost>(roots);
        service = std::make_unique<DeviceService>(
            *host, ServiceOptions{}, [](NoticeLevel, const std::string&) {});
        manager = &service->registry();
        source = host->openUevents();
        ASSERT_TRUE(manager->enumerate().empty());
    }

    /** @brief Waits for events (no time bound) and feeds them in. */
    size_t pump()
    {
        waitReadable(source->fd());
        std::vector<Uevent> events = source->receive();
        for (const Uevent& event : events)
        {
            manager->handleUevent(event);
        }
        return events.size();
    }

    RecordingTestbed bed{plainRecording};
    std::unique_ptr<LinuxHost> host;
    std::unique_ptr<DeviceService> service;
    DeviceManager* manager = nullptr;
    std::unique_ptr<UeventSource> source;
};

TEST_F(DeviceEventsTest, AnOutsideRebindShowsInOneEvent)
{
    ASSERT_EQ(manager->info(nic)->pci.driver, "e1000e");

    // What `driverctl set-override 0000:02:00.0 vfio-pci` leaves behind.
    std::string link =
        bed.sysDir() + std::string(nicPath).substr(4) + "/driver";
    ASSERT_EQ(::unlink(link.c_str()), 0);
    umockdev_testbed_set_attribute_link(bed.testbed(), nicPath, "driver",
                                        "../../../bus/pci/drivers/vfio-pci");
    umockdev_testbed_set_attribute(bed.testbed(), nicPath, "driver_override",
                                   "vfio-pci\n");
    umockdev_testbed_uevent(bed.testbed(), nicPath, "bind");
    ASSERT_EQ(pump(), 1u);

    std::optional<DeviceInfo> info = manager->info(nic);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->pci.driver, "vfio-pci");
    EXPECT_EQ(info->pci.driverOverride, "vfio-pci");
    EXPECT_EQ(info->state, DeviceState::Vfio);
    // vfiod did not bind it, so it claims no original driver.
    EXPECT_FALSE(info->originalDriver);
}

TEST_F(DeviceEventsTest, DevicesAppearAndVanish)
{
    const char* added = umockdev_testbed_add_device(
        bed.testbed(), "pci", "0000:02:00.1",
        "/sys/devices/pci0000:00/0000:00:11.0", "vendor", "0x8086\n", "device",
        "0x10d3\n", "subsystem_vendor", "0x8086\n", "subsystem_device",
        "0x0000\n", "class", "0x020000\n", "revision", "0x00\n",
        "driver_override", "(null)\n", nullptr, "PCI_SLOT_NAME", "0000:02:00.1",
        nullptr);
    ASSERT_NE(added, nullptr);
    std::string path(added);
    // umockdev_testbed_add_device sends the "add" uevent itself.
    ASSERT_EQ(pump(), 1u);
    PciAddress function1 = PciAddress::parse("0000:02:00.1");
    ASSERT_TRUE(manager->info(function1));
    EXPECT_EQ(manager->info(function1)->pci.vendorId, 0x8086);

    umockdev_testbed_uevent(bed.testbed(), path.c_str(), "remove");
    umockdev_testbed_remove_device(bed.testbed(), path.c_str());
    ASSERT_EQ(pump(), 1u);
    EXPECT_FALSE(manager->info(function1));
}

TEST_F(DeviceEventsTest, AMarkedDeviceThatCannotBeBoundKeepsItsDriver)
{
    // The recording has no bus/pci/drivers and no modprobe: the bind
    // fails as soon as it needs the kernel, and the NIC stays on e1000e.
    auto policy = std::make_shared<Policy>();
    parsePolicyFile(*policy,
                    "[[rule]]\nname = \"nic\"\n[rule.match]\n"
                    "address = \"0000:02:00.0\"\n[rule.actions]\n"
                    "bind = \"vfio-pci\"\n",
                    "10-nic.toml");
    service->setPolicy(policy);

    umockdev_testbed_uevent(bed.testbed(), nicPath, "change");
    ASSERT_EQ(pump(), 1u);
    PolicyOutcome outcome = service->applyPolicy(nic);
    ASSERT_EQ(outcome.failures.size(), 1u);
    EXPECT_NE(outcome.failures[0].find("autobind by rule \"nic\""),
              std::string::npos)
        << outcome.failures[0];
    std::optional<DeviceInfo> info = manager->info(nic);
    EXPECT_EQ(info->pci.driver, "e1000e");
    EXPECT_NE(info->lastError.find("autobind by rule \"nic\""),
              std::string::npos);
}

} // namespace
} // namespace vfiod::test
