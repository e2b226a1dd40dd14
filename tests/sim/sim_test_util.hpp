#pragma once

#include "sim/sim_host.hpp"
#include "sim/sim_model.hpp"
#include "sim/sim_state_format.hpp"
#include "sim/sim_state_watch.hpp"
#include "test_support.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace vfiod::simtest
{

using vfiod::test::TempDir;

/**
 * @brief Whether the simulated kernel in @p stateDir holds an operation on
 * @p address that has started and not finished: its writer, in whatever
 * process, is blocked in the kernel until it does.
 */
inline bool pendingIn(const std::string& stateDir, const PciAddress& address)
{
    std::string path = stateDir + "/state";
    sim::Model model = sim::parseState(vfiod::test::readFile(path), path);
    const sim::Device* device = sim::findDevice(model, address);
    return device != nullptr && device->pending.kind != sim::PendingKind::None;
}

/**
 * @brief Waits until pendingIn() holds, woken by every change of the state
 * directory (inotify), whichever process makes it. No time bound.
 */
inline void waitForPending(const std::string& stateDir,
                           const PciAddress& address)
{
    sim::StateWatch watch(stateDir);
    while (!pendingIn(stateDir, address))
    {
        // The hour is no limit: the loop looks again after every change.
        watch.wait(std::chrono::hours(1));
    }
}

/**
 * @brief Counts the calls of this process that began to wait in the
 * simulated kernel (sim::setWaitObserver), by device address or node
 * path, while it lives. Declare it before the threads or futures it
 * watches, so that it outlives them.
 */
class KernelWaits
{
  public:
    KernelWaits()
    {
        sim::setWaitObserver([this](const std::string& what) {
            std::lock_guard lock(mutex);
            ++counts[what];
            changed.notify_all();
        });
    }
    ~KernelWaits()
    {
        sim::setWaitObserver({});
    }
    KernelWaits(const KernelWaits&) = delete;
    KernelWaits& operator=(const KernelWaits&) = delete;

    /** @brief Blocks until @p n calls have begun to wait on @p what. */
    void waitFor(const std::string& what, int n = 1)
    {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return counts[what] >= n; });
    }

  private:
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::string, int> counts;
};

/**
 * @brief The host most tests run on: small, with one device per
 * situation worth testing.
 */
inline const char* const testHost = R"(
[host]
kernel_release = "6.1.0-test"

[[module]]
name = "vfio"
loaded = false

[[module]]
name = "vfio_pci"
drivers = ["vfio-pci"]
depends = ["vfio"]
loaded = false

[[module]]
name = "mlx5_vfio_pci"
drivers = ["mlx5_vfio_pci"]
loaded = false

[[module]]
name = "pcieport"
drivers = ["pcieport"]

[[module]]
name = "e1000e"
drivers = ["e1000e"]

[[module]]
name = "igb"
drivers = ["igb"]

[[module]]
name = "i40e"
drivers = ["i40e"]

[[module]]
name = "iavf"
drivers = ["iavf"]

[[module]]
name = "late_drv"
drivers = ["late-drv"]
loaded = false
aliases = ["pci:v00001AF4d00001041sv*sd*bc*sc*i*"]

[[driver]]
name = "mlx5_vfio_pci"
ids = ["15b3:101e"]

[[driver]]
name = "pcieport"
ids = ["class:060400/ffff00"]

[[driver]]
name = "e1000e"
ids = ["8086:10d3"]

[[driver]]
name = "igb"
ids = ["8086:10d3"]

[[driver]]
name = "i40e"
ids = ["8086:1572"]
sriov = true

[[driver]]
name = "iavf"
ids = ["8086:154c"]

[[driver]]
name = "late-drv"
ids = ["1af4:1041"]

[[device]]
address = "0000:00:01.0"
vendor = 0x8086
device = 0x1901
class = 0x060400
header_type = 1
iommu_group = 0
driver = "pcieport"

[[device]]
address = "0000:01:00.0"
vendor = 0x8086
device = 0x10d3
subsystem_vendor = 0x8086
subsystem_device = 0xa01f
class = 0x020000
revision = 0x02
iommu_group = 1
numa_node = 0
driver = "e1000e"
reset_methods = ["flr", "pm", "bus"]

[[device]]
address = "0000:01:00.1"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 1
reset_methods = ["pm"]

[[device]]
address = "0000:02:00.0"
vendor = 0x8086
device = 0x1572
class = 0x020000
iommu_group = 2
driver = "i40e"
reset_methods = ["flr"]
sriov_totalvfs = 4
sriov_vf_device = 0x154c
sriov_offset = 16
sriov_stride = 1

[[device]]
address = "0000:03:00.0"
vendor = 0x1af4
device = 0x1041
class = 0x020000
iommu_group = 3

[[device]]
address = "0000:04:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 4
reset_methods = ["flr", "bus"]
fail_probe = ["vfio-pci", "e1000e", "igb"]
fail_reset = ["flr"]

[[device]]
address = "0000:05:00.0"
vendor = 0x1234
device = 0x1111
class = 0x030000

[[device]]
address = "0000:06:00.0"
vendor = 0x8086
device = 0x10d3
class = 0x020000
iommu_group = 6
driver = "e1000e"
reset_methods = ["flr"]
unbind_delay_ms = 150
reset_delay_ms = 150
)";

/** @brief A SimHost on testHost in a fresh state directory. */
class SimFixture : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        hostFile = dir.write("host.toml", testHost);
        stateDir = dir.path() + "/state";
        host = std::make_unique<SimHost>(hostFile, stateDir);
    }

    /** @brief Another view of the same state, as another process has. */
    std::unique_ptr<SimHost> secondHost() const
    {
        return std::make_unique<SimHost>("", stateDir);
    }

    /** @brief The errno a write fails with, 0 when it succeeds. */
    int writeErrno(const std::string& path, const std::string& value)
    {
        return writeErrnoOn(*host, path, value);
    }

    static int writeErrnoOn(SimHost& on, const std::string& path,
                            const std::string& value)
    {
        try
        {
            on.write(path, value);
            return 0;
        }
        catch (const std::system_error& e)
        {
            return e.code().value();
        }
    }

    std::string read(const std::string& path)
    {
        return host->read(path).value_or("<absent>");
    }

    std::string driverOf(const std::string& address)
    {
        return host->readLinkName("bus/pci/devices/" + address + "/driver")
            .value_or("");
    }

    /** @brief modprobe vfio_pci, override, unbind, drivers_probe. */
    void bindToVfio(const std::string& address)
    {
        host->modprobe("vfio_pci");
        std::string dev = "bus/pci/devices/" + address;
        host->write(dev + "/driver_override", "vfio-pci");
        std::string driver = driverOf(address);
        if (!driver.empty())
        {
            host->write("bus/pci/drivers/" + driver + "/unbind", address);
        }
        host->write("bus/pci/drivers_probe", address);
        ASSERT_EQ(driverOf(address), "vfio-pci");
    }

    TempDir dir;
    std::string hostFile;
    std::string stateDir;
    std::unique_ptr<SimHost> host;
};

} // namespace vfiod::simtest
