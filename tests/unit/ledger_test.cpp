// The ledger: its record format, atomic files, and the reconciliation of a
// restarted DeviceManager with what the (simulated) kernel shows.

#include "base/error.hpp"
#include "ledger/ledger.hpp"
#include "service/device_manager.hpp"
#include "sim/sim_host.hpp"
#include "test_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const PciAddress nvme = PciAddress::parse("0000:02:00.0");
const PciAddress pf = PciAddress::parse("0000:03:00.0");

class LedgerTest : public ::testing::Test
{
  protected:
    void TearDown() override
    {
        manager.reset();
        sim.reset();
    }

    /** @brief A vfiod start: a fresh manager on the same kernel and ledger. */
    ReconcileReport restart()
    {
        manager.reset();
        std::string root = test::requiredEnv("VFIOD_SOURCE_ROOT");
        if (!sim)
        {
            sim = std::make_unique<SimHost>(root + "/conf/sim-host.toml",
                                            dir + "/sim");
        }
        ledger = std::make_unique<Ledger>(dir + "/state");
        ManagerOptions options;
        // Out of a slow machine's reach: no test here times a node out.
        options.timeouts.devNode = std::chrono::hours(1);
        manager = std::make_unique<DeviceManager>(*sim, options);
        manager->keepLedger(*ledger);
        manager->enumerate();
        return manager->reconcile();
    }

    std::string driverOf(const PciAddress& address)
    {
        return manager->info(address)->pci.driver;
    }

    test::TempDir tmp;
    const std::string& dir = tmp.path();
    std::unique_ptr<SimHost> sim;
    std::unique_ptr<Ledger> ledger;
    std::unique_ptr<DeviceManager> manager;
};

TEST(LedgerRecordText, RoundTripsAndRefusesTornRecords)
{
    LedgerRecord record;
    record.address = nvme;
    record.originalDriver = "nvme";
    record.owner = ":1.42 uid=1000";
    record.leaseToken = "00ff";
    record.binding = true;
    std::string text = formatLedgerRecord(record);
    EXPECT_EQ(parseLedgerRecord(text), record);

    // Cut anywhere before its last line, a record is refused.
    for (size_t cut = 0; cut + 4 < text.size(); cut += 7)
    {
        EXPECT_THROW(parseLedgerRecord(text.substr(0, cut)), Error) << cut;
    }
    record.owner = "two\nlines";
    EXPECT_THROW(formatLedgerRecord(record), Error);
    EXPECT_EQ(newLeaseToken().size(), 32u);
    EXPECT_NE(newLeaseToken(), newLeaseToken());
}

TEST_F(LedgerTest, RecordsWhatVfiodTookAndForgetsWhatItGaveBack)
{
    restart();
    manager->bind(nvme, "");
    std::map<std::string, std::string> damaged;
    std::map<PciAddress, LedgerRecord> records = ledger->load(&damaged);
    EXPECT_TRUE(damaged.empty()) << damaged.begin()->second;
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[nvme].originalDriver, "nvme");
    EXPECT_FALSE(records[nvme].binding);

    manager->assign(nvme, ":1.7 uid=0", "", "cafe");
    records = ledger->load();
    EXPECT_EQ(records[nvme].owner, ":1.7 uid=0");
    EXPECT_EQ(records[nvme].leaseToken, "cafe");

    manager->release(nvme, "");
    EXPECT_EQ(ledger->load()[nvme].owner, "");
    manager->unbind(nvme);
    EXPECT_TRUE(ledger->load().empty());
    // Only whole records and no temporary files in the directory.
    EXPECT_TRUE(fs::is_empty(dir + "/state/devices"));
}

TEST_F(LedgerTest, ARestartKeepsTheOwnerAndTheOriginalDriver)
{
    restart();
    manager->assign(nvme, ":1.7 uid=0", "", "cafe");

    ReconcileReport report = restart();
    std::optional<DeviceInfo> info = manager->info(nvme);
    EXPECT_EQ(info->state, DeviceState::Assigned);
    EXPECT_EQ(info->owner, ":1.7 uid=0");
    EXPECT_EQ(info->originalDriver, std::optional<std::string>("nvme"));
    ASSERT_EQ(report.assigned.size(), 1u);
    EXPECT_EQ(report.assigned[0], nvme);

    // Only the token re-attaches.
    EXPECT_THROW(manager->reattach(nvme, "beef", ":1.9 uid=0"), Error);
    manager->reattach(nvme, "cafe", ":1.9 uid=0");
    EXPECT_EQ(manager->info(nvme)->owner, ":1.9 uid=0");
    EXPECT_EQ(ledger->load()[nvme].owner, ":1.9 uid=0");

    // After the release, the give-back still knows the original driver.
    manager->release(nvme, "");
    restart();
    manager->unbind(nvme);
    EXPECT_EQ(driverOf(nvme), "nvme");
}

TEST_F(LedgerTest, ReconcileDropsStaleRecordsAndFinishesGiveBacks)
{
    restart();
    // A bind that never reached the kernel (vfiod died after the intent).
    LedgerRecord intent;
    intent.address = pf;
    intent.originalDriver = "i40e";
    intent.binding = true;
    ledger->put(intent);
    // A record of a device that is gone.
    LedgerRecord gone;
    gone.address = PciAddress::parse("0000:7f:00.0");
    gone.originalDriver = "e1000e";
    ledger->put(gone);
    // A give-back cut short after the unbind: no driver at all.
    manager->bind(nvme, "");
    sim->write("bus/pci/drivers/vfio-pci/unbind", nvme.str());
    // A damaged record is reported and left alone.
    std::ofstream(dir + "/state/devices/0000:04:00.0") << "garbage";

    ReconcileReport report = restart();
    EXPECT_EQ(driverOf(pf), "i40e");
    EXPECT_EQ(driverOf(nvme), "nvme");
    std::map<PciAddress, LedgerRecord> left = ledger->load();
    EXPECT_TRUE(left.empty());
    EXPECT_TRUE(fs::exists(dir + "/state/devices/0000:04:00.0"));
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_NE(report.problems[0].find("0000:04:00.0"), std::string::npos);
    std::string notes;
    for (const std::string& note : report.notes)
    {
        notes += note + "\n";
    }
    EXPECT_NE(notes.find("0000:7f:00.0: gone"), std::string::npos) << notes;
    EXPECT_NE(notes.find("a bind that did not happen"), std::string::npos)
        << notes;
    EXPECT_NE(notes.find("given back to nvme"), std::string::npos) << notes;
}

TEST_F(LedgerTest, AVfioDeviceWithoutARecordIsAdoptedButNotOwned)
{
    restart();
    // Bound by somebody else (driverctl) while vfiod was down.
    sim->write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci");
    sim->modprobe("vfio_pci");
    sim->write("bus/pci/drivers/nvme/unbind", nvme.str());
    sim->write("bus/pci/drivers_probe", nvme.str());

    ReconcileReport report = restart();
    std::optional<DeviceInfo> info = manager->info(nvme);
    EXPECT_EQ(info->state, DeviceState::Vfio);
    EXPECT_FALSE(info->originalDriver);
    EXPECT_TRUE(info->owner.empty());
    bool adopted = false;
    for (const std::string& note : report.notes)
    {
        adopted |= note.find("adopted as vfio") != std::string::npos;
    }
    EXPECT_TRUE(adopted);
}

} // namespace
} // namespace vfiod
