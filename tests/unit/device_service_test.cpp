// The core service on the simulated host, without D-Bus: the plugin hooks
// around the kernel sequence, a plugin failing in prepare, the IOMMU-group
// hold over a plugin that blocks, and an autobind on hotplug. The gate
// plugin (tests/unit/gate) logs every hook, so the tests follow the order
// of events rather than a clock.

#include "base/error.hpp"
#include "config/policy.hpp"
#include "kernel/sysfs_layout.hpp"
#include "service/device_service.hpp"
#include "sim/sim_host.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace vfiod::test
{
namespace
{

// Group 5: the gate (.0, on its host driver) and a sibling without a
// driver, which keeps the group viable. Group 6: another device of the
// plugin. Group 7: a device whose prepare the plugin refuses.
constexpr const char* host = R"(
[[module]]
name = "vfio_pci"
drivers = ["vfio-pci"]

[[module]]
name = "gatedrv"
drivers = ["gatedrv"]

[[driver]]
name = "gatedrv"
ids = ["1d0f:6a7e", "1d0f:0001", "1d0f:0002", "1d0f:fa11"]

[[device]]
address = "0000:05:00.0"
vendor = 0x1d0f
device = 0x6a7e
class = 0x120000
iommu_group = 5
driver = "gatedrv"

[[device]]
address = "0000:05:00.1"
vendor = 0x1d0f
device = 0x0001
class = 0x120000
iommu_group = 5

[[device]]
address = "0000:06:00.0"
vendor = 0x1d0f
device = 0x0001
class = 0x120000
iommu_group = 6
driver = "gatedrv"

[[device]]
address = "0000:07:00.0"
vendor = 0x1d0f
device = 0xfa11
class = 0x120000
iommu_group = 7
driver = "gatedrv"
)";

const PciAddress gate = PciAddress::parse("0000:05:00.0");
const PciAddress sibling = PciAddress::parse("0000:05:00.1");
const PciAddress other = PciAddress::parse("0000:06:00.0");
const PciAddress refusing = PciAddress::parse("0000:07:00.0");

/** @brief The plugin host's lines, and a wait for one to come. */
class PluginLines
{
  public:
    void add(const std::string& line)
    {
        std::lock_guard lock(mutex);
        lines.push_back(line);
        arrived.notify_all();
    }

    /** @brief Waits until a line containing @p text has come. */
    void waitFor(const std::string& text)
    {
        std::unique_lock lock(mutex);
        arrived.wait(lock, [&] { return indexLocked(text) >= 0; });
    }

    /** @brief Where the first line containing @p text is; -1 if none. */
    long index(const std::string& text) const
    {
        std::lock_guard lock(mutex);
        return indexLocked(text);
    }

  private:
    long indexLocked(const std::string& text) const
    {
        auto it = std::find_if(lines.begin(), lines.end(), [&](const auto& l) {
            return l.find(text) != std::string::npos;
        });
        return it == lines.end() ? -1 : it - lines.begin();
    }

    mutable std::mutex mutex;
    std::condition_variable arrived;
    std::vector<std::string> lines;
};

class ServiceOnSim : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        gateFifo = dir / "gate";
        ASSERT_EQ(::mkfifo(gateFifo.c_str(), 0600), 0);
        ::setenv("VFIOD_TEST_GATE", gateFifo.c_str(), 1);
        sim = std::make_unique<SimHost>(dir.write("host.toml", host),
                                        dir / "state");

        ServiceOptions options;
        options.manager.timeouts.devNode = 1s;
        // A request on a held group gives up after this and answers Busy:
        // how a test sees that the hold covers the plugin's prepare.
        options.manager.groupLockWait = 100ms;
        options.plugins.directory = requiredEnv("VFIOD_TEST_GATE_PLUGIN_DIR");
        options.plugins.log = [this](int, const std::string& line) {
            lines.add(line);
        };
        service = std::make_unique<DeviceService>(
            *sim, options, [](NoticeLevel, const std::string&) {});
        ASSERT_TRUE(service->registry().enumerate().empty());
    }

    void TearDown() override
    {
        service.reset();
        sim.reset();
        ::unsetenv("VFIOD_TEST_GATE");
    }

    /** Lets the gate plugin's blocked prepare go on. */
    void openGate()
    {
        int fd = ::open(gateFifo.c_str(), O_WRONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ::close(fd);
    }

    DeviceInfo info(const PciAddress& address)
    {
        std::optional<DeviceInfo> found = service->registry().info(address);
        EXPECT_TRUE(found) << address.str();
        return found.value_or(DeviceInfo{});
    }

    std::string overrideOf(const PciAddress& address)
    {
        return sim->read(sysfs::deviceAttr(address, "driver_override"))
            .value_or("<missing>");
    }

    static Request request(const PciAddress& address)
    {
        return {address, "Bind " + address.str()};
    }

    TempDir dir;
    std::string gateFifo;
    PluginLines lines;
    std::unique_ptr<SimHost> sim;
    std::unique_ptr<DeviceService> service;
};

TEST_F(ServiceOnSim, BindRunsThePluginAroundTheKernelSequence)
{
    EXPECT_EQ(service->bind(request(other), "", false), "vfio-pci");
    EXPECT_EQ(info(other).pci.driver, "vfio-pci");
    EXPECT_EQ(info(other).originalDriver, "gatedrv");
    EXPECT_EQ(info(other).plugin, "");
    EXPECT_EQ(service->plugins().status(other).plugin, "gate");

    long prepare = lines.index("prepare_bind 0000:06:00.0 vfio-pci");
    long cleanup = lines.index("cleanup_bind 0000:06:00.0 0");
    ASSERT_GE(prepare, 0);
    EXPECT_GT(cleanup, prepare);

    service->unbind(request(other));
    EXPECT_EQ(info(other).pci.driver, "gatedrv");
}

TEST_F(ServiceOnSim, APluginThatFailsInPrepareChangesNothing)
{
    try
    {
        service->bind(request(refusing), "", false);
        ADD_FAILURE() << "the bind succeeded";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Failed);
        EXPECT_NE(std::string(e.what()).find("the firmware refused"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(info(refusing).pci.driver, "gatedrv");
    EXPECT_EQ(overrideOf(refusing), "(null)\n");
    // Nothing was bound, so there is nothing to clean up after.
    EXPECT_EQ(lines.index("cleanup_bind 0000:07:00.0"), -1);
}

TEST_F(ServiceOnSim, APluginBlockedInPrepareHoldsOnlyItsGroup)
{
    std::future<std::string> blocked = std::async(std::launch::async, [&] {
        return service->bind(request(gate), "", false);
    });
    lines.waitFor("gate entered 0000:05:00.0");

    // Another group goes on while the gate is closed (it opens only when
    // this test opens it, below).
    EXPECT_EQ(service->bind(request(other), "", false), "vfio-pci");
    EXPECT_EQ(lines.index("gate left"), -1);

    // The same group is held from the prepare on: its sibling waits the
    // group wait, then gets Busy, with nothing changed.
    try
    {
        service->bind(request(sibling), "", false);
        ADD_FAILURE() << "the sibling was bound while its group was held";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Busy);
        EXPECT_NE(std::string(e.what()).find("IOMMU group 5"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(info(sibling).pci.driver, "");
    EXPECT_EQ(lines.index("gate left"), -1);

    openGate();
    EXPECT_EQ(blocked.get(), "vfio-pci");
    EXPECT_EQ(info(gate).pci.driver, "vfio-pci");
    EXPECT_GT(lines.index("cleanup_bind 0000:05:00.0 0"),
              lines.index("gate left 0000:05:00.0"));

    EXPECT_EQ(service->bind(request(sibling), "", false), "vfio-pci");
}

TEST_F(ServiceOnSim, UnbindLeavesADeviceItNeverTookAsItIs)
{
    // The gate goes to vfio (its prepare passes the gate as soon as it
    // reaches it); its sibling never had a driver, which is what keeps the
    // group viable.
    std::future<void> opened =
        std::async(std::launch::async, [&] { openGate(); });
    service->bind(request(gate), "", false);
    opened.get();
    ASSERT_EQ(info(gate).pci.driver, "vfio-pci");
    ASSERT_EQ(info(sibling).pci.driver, "");
    ASSERT_FALSE(info(sibling).originalDriver);

    service->unbind({sibling, "Unbind " + sibling.str()});
    EXPECT_EQ(info(sibling).pci.driver, "");
    EXPECT_EQ(overrideOf(sibling), "(null)\n");
    EXPECT_EQ(info(gate).pci.driver, "vfio-pci");
    EXPECT_EQ(info(sibling).lastError, "");

    // What vfiod took, it gives back.
    service->unbind(request(gate));
    EXPECT_EQ(info(gate).pci.driver, "gatedrv");
}

TEST_F(ServiceOnSim, AssignRunsTheBindThenTheAssignHooks)
{
    service->assign({other, "Assign " + other.str()}, ":1.7 uid=0", "",
                    "token");
    EXPECT_EQ(info(other).state, DeviceState::Assigned);
    EXPECT_EQ(info(other).owner, ":1.7 uid=0");
    long cleanupBind = lines.index("cleanup_bind 0000:06:00.0 0");
    long prepareAssign = lines.index("prepare_assign 0000:06:00.0");
    long cleanupAssign = lines.index("cleanup_assign 0000:06:00.0 0");
    ASSERT_GE(cleanupBind, 0);
    EXPECT_GT(prepareAssign, cleanupBind);
    EXPECT_GT(cleanupAssign, prepareAssign);

    PolicyOutcome released =
        service->release({other, "Release " + other.str()}, "");
    EXPECT_TRUE(released.failures.empty());
    EXPECT_EQ(info(other).state, DeviceState::Vfio);
}

TEST_F(ServiceOnSim, AutobindOnHotplugGoesThroughThePlugin)
{
    auto policy = std::make_shared<Policy>();
    parsePolicyFile(*policy,
                    "[[rule]]\nname = \"accel\"\n[rule.match]\n"
                    "vendor = 0x1d0f\ndevice = 0x0002\n[rule.actions]\n"
                    "bind = \"vfio-pci\"\n",
                    "10-accel.toml");
    service->setPolicy(policy);

    std::unique_ptr<UeventSource> events = sim->openUevents();
    sim->hotAdd(R"(address = "0000:08:00.0"
vendor = 0x1d0f
device = 0x0002
class = 0x120000
iommu_group = 8
)");
    std::vector<PciAddress> added = service->applyUevents(events->receive());
    const PciAddress hotplugged = PciAddress::parse("0000:08:00.0");
    ASSERT_EQ(added, std::vector<PciAddress>{hotplugged});

    PolicyOutcome outcome = service->applyPolicy(hotplugged);
    EXPECT_TRUE(outcome.failures.empty());
    ASSERT_EQ(outcome.notes.size(), 1u);
    EXPECT_NE(outcome.notes[0].find("bound to vfio-pci by rule \"accel\""),
              std::string::npos)
        << outcome.notes[0];
    EXPECT_EQ(info(hotplugged).pci.driver, "vfio-pci");
    EXPECT_EQ(info(hotplugged).originalDriver, "gatedrv");
    EXPECT_GE(lines.index("prepare_bind 0000:08:00.0 vfio-pci"), 0);
    EXPECT_GE(lines.index("cleanup_bind 0000:08:00.0 0"), 0);
}

} // namespace
} // namespace vfiod::test
