// The ledger: its record format, atomic files, and the reconciliation of a
// restarted DeviceManager with what the (simulated) kernel shows.

#include "base/error.hpp"
#include "ledger/ledger.hpp"
#include "service/device_manager.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"
#include "test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

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
    ReconcileReport
        restart(std::chrono::milliseconds unbindTimeout = std::chrono::hours(1))
    {
        manager.reset();
        std::string root = test::requiredEnv("VFIOD_SOURCE_ROOT");
        if (!sim)
        {
            sim = std::make_unique<SimHost>(
                hostFile.empty() ? root + "/conf/sim-host.toml" : hostFile,
                dir + "/sim");
        }
        ledger = std::make_unique<Ledger>(dir + "/state");
        ManagerOptions options;
        // Out of a slow machine's reach: no test here times a node out.
        options.timeouts.devNode = std::chrono::hours(1);
        options.timeouts.unbind = unbindTimeout;
        manager = std::make_unique<DeviceManager>(*sim, options);
        manager->keepLedger(*ledger);
        manager->enumerate();
        return manager->reconcile();
    }

    std::string driverOf(const PciAddress& address)
    {
        return manager->info(address)->pci.driver;
    }

    /** @brief The sample host with nvme's unbinds taking a while: long
     *  enough for a restart to find one still in flight. */
    void slowNvmeUnbinds()
    {
        std::string root = test::requiredEnv("VFIOD_SOURCE_ROOT");
        std::string text = test::readFile(root + "/conf/sim-host.toml");
        std::string line = "address = \"0000:02:00.0\"\n";
        size_t at = text.find(line);
        ASSERT_NE(at, std::string::npos);
        text.insert(at + line.size(), "unbind_delay_ms = 200\n");
        hostFile = dir + "/slow-host.toml";
        test::writeFile(hostFile, text);
    }

    /** @brief An unbind of @p address from @p driver by a vfiod killed
     *  while the kernel still works on it: the kernel finishes it (here, a
     *  thread that is nobody's vfiod) whatever the restarted vfiod does. */
    /** @brief The restart left nvme on its driver, clean, unrecorded. */
    void expectBackOnNvme(const ReconcileReport& report)
    {
        EXPECT_EQ(kernelView(nvme), "nvme, override (null)\n");
        EXPECT_EQ(driverOf(nvme), "nvme");
        EXPECT_TRUE(ledger->load().empty());
        EXPECT_TRUE(report.problems.empty()) << report.problems[0];
    }

    std::thread unbindInFlight(const PciAddress& address,
                               const std::string& driver)
    {
        std::thread writer([this, address, driver] {
            SimHost kernel("", dir + "/sim");
            kernel.write("bus/pci/drivers/" + driver + "/unbind",
                         address.str());
        });
        simtest::waitForPending(dir + "/sim", address);
        return writer;
    }

    /** @brief The device's driver and override in the kernel itself. */
    std::string kernelView(const PciAddress& address)
    {
        std::string base = "bus/pci/devices/" + address.str() + "/";
        return sim->readLinkName(base + "driver").value_or("no driver") +
               ", override " + sim->read(base + "driver_override").value_or("");
    }

    test::TempDir tmp;
    const std::string& dir = tmp.path();
    std::string hostFile;
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

TEST_F(LedgerTest, ABindKilledWithItsUnbindInFlightEndsOnTheHostDriver)
{
    // Killed after driver_override, the unbind of nvme still in flight: a
    // restart reads nvme, and a moment later the kernel leaves the device
    // without a driver. Clearing the override alone left it so.
    slowNvmeUnbinds();
    restart();
    LedgerRecord intent;
    intent.address = nvme;
    intent.originalDriver = "nvme";
    intent.binding = true;
    ledger->put(intent);
    sim->modprobe("vfio_pci");
    sim->write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci");
    std::thread unbind = unbindInFlight(nvme, "nvme");

    ReconcileReport report = restart();
    unbind.join();
    expectBackOnNvme(report);
}

TEST_F(LedgerTest, AGiveBackKilledWithItsUnbindInFlightEndsOnTheHostDriver)
{
    // Killed after the override was cleared, the unbind from vfio-pci
    // still in flight: a restart reads vfio-pci, and a moment later the
    // kernel leaves the device without a driver, vfiod still believing
    // it on vfio.
    slowNvmeUnbinds();
    restart();
    manager->bind(nvme, "");
    sim->write("bus/pci/devices/0000:02:00.0/driver_override", "\n");
    std::thread unbind = unbindInFlight(nvme, "vfio-pci");

    ReconcileReport report = restart();
    unbind.join();
    expectBackOnNvme(report);
}

TEST_F(LedgerTest, AGiveBackStillBlockedAtARestartIsFinishedWhenTheKernelLetsGo)
{
    // The unbind from vfio-pci waits for a process that holds the device
    // open: the restart cannot wait that long, keeps the record, and gives
    // the device back once the kernel lets go (its unbind uevent).
    restart();
    manager->bind(nvme, "");
    sim->openDevice(nvme);
    sim->write("bus/pci/devices/0000:02:00.0/driver_override", "\n");
    std::thread unbind = unbindInFlight(nvme, "vfio-pci");

    // Any timeout runs out: the device stays open until the test closes it.
    ReconcileReport report = restart(std::chrono::seconds(1));
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_NE(report.problems[0].find("still in flight"), std::string::npos)
        << report.problems[0];
    EXPECT_EQ(ledger->load()[nvme].originalDriver, "nvme");

    // The restart did not sit in D state: its read of driver_override
    // waits on a thread of its own, and the device is Busy meanwhile.
    try
    {
        manager->bind(nvme, "");
        ADD_FAILURE() << "bound a device whose lock is still held";
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::Busy) << e.what();
    }
    sim->closeDevice(nvme);
    unbind.join();
    // The kernel finished the unbind; the finisher waits for the read to
    // return (up to unbind_ms) before it gives the device back.
    test::waitFor(
        [&] { return kernelView(nvme) == "no driver, override (null)\n"; });
    Uevent event;
    event.action = "unbind";
    event.subsystem = "pci";
    event.sysname = nvme.str();
    manager->handleUevent(event);
    manager->joinFinishers();
    EXPECT_EQ(kernelView(nvme), "nvme, override (null)\n");
    EXPECT_EQ(driverOf(nvme), "nvme");
    EXPECT_TRUE(ledger->load().empty());
}

TEST_F(LedgerTest, AManagedDeviceWhoseOverrideWasLostKeepsItsPlaceOnVfio)
{
    // The override cleared (a give-back killed before its unbind): the
    // device is still on vfio, and stays there, its override restored
    // so that a reprobe keeps it there.
    restart();
    manager->bind(nvme, "");
    sim->write("bus/pci/devices/0000:02:00.0/driver_override", "\n");

    restart();
    EXPECT_EQ(kernelView(nvme), "vfio-pci, override vfio-pci\n");
    EXPECT_EQ(manager->info(nvme)->state, DeviceState::Vfio);
    EXPECT_EQ(ledger->load()[nvme].originalDriver, "nvme");
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

/** @brief The name the ledger wrote its temporary file at before issue
 *  17: predictable by anyone who knew the daemon's pid. */
std::string oldTemporaryOf(const std::string& path)
{
    return path + ".tmp." + std::to_string(::getpid());
}

bool isSymlink(const std::string& path)
{
    return fs::is_symlink(fs::symlink_status(path));
}

/** @brief The message of the Error(InvalidArgument) @p make throws. */
std::string refusalOf(const std::function<void()>& make)
{
    try
    {
        make();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "not refused";
    return "";
}

TEST_F(LedgerTest, ARecordIsNeverWrittenThroughAPlantedLink)
{
    restart();
    test::TempDir elsewhere;
    std::string victim = elsewhere.write("victim", "precious\n");
    std::string absent = elsewhere / "absent";
    std::string records = dir + "/state/devices";

    // At the temporary names the old code used: one link to a file that
    // exists, one to a name that does not.
    fs::create_symlink(victim, oldTemporaryOf(records + "/" + nvme.str()));
    fs::create_symlink(absent, oldTemporaryOf(records + "/" + pf.str()));
    manager->bind(nvme, "");
    manager->bind(pf, "");
    EXPECT_EQ(test::readFile(victim), "precious\n");
    EXPECT_FALSE(fs::exists(fs::symlink_status(absent)));
    std::map<std::string, std::string> damaged;
    std::map<PciAddress, LedgerRecord> kept = ledger->load(&damaged);
    EXPECT_TRUE(damaged.empty()) << damaged.begin()->second;
    EXPECT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[nvme].originalDriver, "nvme");

    // At a record's own name: read as damaged (not followed), then
    // replaced by the record when vfiod writes it.
    manager->unbind(pf);
    std::string record = records + "/" + pf.str();
    fs::create_symlink(victim, record);
    damaged.clear();
    ledger->load(&damaged);
    ASSERT_EQ(damaged.count(record), 1u);
    EXPECT_NE(damaged[record].find("symbolic link"), std::string::npos)
        << damaged[record];
    manager->bind(pf, "");
    EXPECT_FALSE(isSymlink(record));
    EXPECT_EQ(ledger->load()[pf].originalDriver, "i40e");
    EXPECT_EQ(test::readFile(victim), "precious\n");

    // Erasing a record that is a link removes the link, not its target.
    const PciAddress gone = PciAddress::parse("0000:7f:00.0");
    fs::create_symlink(victim, records + "/" + gone.str());
    ledger->erase(gone);
    EXPECT_FALSE(fs::exists(fs::symlink_status(records + "/" + gone.str())));
    EXPECT_EQ(test::readFile(victim), "precious\n");
}

TEST_F(LedgerTest, AStateDirectoryThatIsALinkIsRefused)
{
    test::TempDir elsewhere;
    std::string state = dir + "/state";

    // The state directory itself, a link to a directory or to nothing.
    fs::create_symlink(elsewhere.path(), state);
    for (const std::string& given : {state, state + "/"})
    {
        std::string why = refusalOf([&] { Ledger ledger(given); });
        EXPECT_NE(why.find("state directory " + state + " is a symbolic link"),
                  std::string::npos)
            << why;
        // The same refusal before anything else is written there.
        EXPECT_EQ(refusalOf([&] { requireLedgerDirectories(given); }), why);
    }
    fs::remove(state);
    fs::create_symlink(elsewhere / "absent", state);
    refusalOf([&] { Ledger ledger(state); });
    EXPECT_TRUE(fs::is_empty(elsewhere.path())); // nothing made there

    // Its devices/ directory: a link, or not a directory at all.
    fs::remove(state);
    fs::create_directory(state);
    fs::create_symlink(elsewhere.path(), state + "/devices");
    std::string why = refusalOf([&] { Ledger ledger(state); });
    EXPECT_NE(
        why.find("ledger directory " + state + "/devices is a symbolic link"),
        std::string::npos)
        << why;
    EXPECT_EQ(refusalOf([&] { requireLedgerDirectories(state); }), why);
    EXPECT_TRUE(fs::is_empty(elsewhere.path()));
    fs::remove(state + "/devices");
    test::writeFile(state + "/devices", "");
    why = refusalOf([&] { Ledger ledger(state); });
    EXPECT_NE(why.find("/devices is not a directory"), std::string::npos)
        << why;

    // A real directory, made when missing, is taken.
    fs::remove(state + "/devices");
    requireLedgerDirectories(state);
    requireLedgerDirectories(dir + "/fresh/state");
    EXPECT_FALSE(fs::exists(dir + "/fresh")); // checked, not made
    Ledger made(dir + "/fresh/state");
    EXPECT_TRUE(
        fs::is_directory(fs::symlink_status(dir + "/fresh/state/devices")));
    Ledger taken(state);
    EXPECT_TRUE(taken.load().empty());
}

TEST_F(LedgerTest, WhatIsNamedLikeARecordButIsNoneIsReportedAndTheRestLoaded)
{
    restart();
    manager->assign(nvme, ":1.7 uid=0", "", "cafe");
    std::string records = dir + "/state/devices";

    // A FIFO nobody writes to: opened blocking, it would hang the start.
    std::string fifo = records + "/0000:04:00.0";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::string directory = records + "/0000:05:00.0";
    fs::create_directory(directory);
    // A record that would parse, were it read: refused for its size.
    LedgerRecord big;
    big.address = PciAddress::parse("0000:06:00.0");
    std::string text = formatLedgerRecord(big);
    text.insert(text.find("\nend\n"),
                "\npadding=" + std::string(maxRecordBytes, 'x'));
    std::string oversized = records + "/0000:06:00.0";
    test::writeFile(oversized, text);
    // A link to a record that would parse, were it followed.
    test::TempDir elsewhere;
    LedgerRecord foreign;
    foreign.address = PciAddress::parse("0000:7f:00.0");
    foreign.originalDriver = "e1000e";
    std::string link = records + "/0000:7f:00.0";
    fs::create_symlink(elsewhere.write("record", formatLedgerRecord(foreign)),
                       link);

    ReconcileReport report = restart();
    EXPECT_EQ(manager->info(nvme)->state, DeviceState::Assigned);
    EXPECT_EQ(manager->info(nvme)->owner, ":1.7 uid=0");
    std::string problems;
    for (const std::string& problem : report.problems)
    {
        problems += problem + "\n";
    }
    EXPECT_EQ(report.problems.size(), 4u) << problems;
    for (const auto& [path, why] :
         {std::pair{fifo, "it is a FIFO, not a regular file"},
          std::pair{directory, "it is a directory, not a regular file"},
          std::pair{oversized, "it holds"},
          std::pair{link, "it is a symbolic link: not followed"}})
    {
        EXPECT_NE(
            problems.find("ledger record " + path + " is unreadable (" + why),
            std::string::npos)
            << problems;
        EXPECT_TRUE(fs::exists(fs::symlink_status(path))) << path;
    }
    EXPECT_EQ(ledger->load().size(), 1u);
}

} // namespace
} // namespace vfiod
