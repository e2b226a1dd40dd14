#include "crash_fixture.hpp"

#include "ledger/ledger.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"

#include <signal.h>

namespace vfiod::test
{

const std::map<std::string, std::string>& CrashTest::bootDrivers()
{
    static const std::map<std::string, std::string> drivers = {
        {"0000:02:00.0", "nvme"},
        {"0000:0b:00.3", ""},
    };
    return drivers;
}

const std::vector<std::string>& CrashTest::nics()
{
    static const std::vector<std::string> addresses = {"0000:02:00.0",
                                                       "0000:0b:00.3"};
    return addresses;
}

const std::string CrashTest::migratable = "0000:0b:00.3";

std::string CrashTest::sampleHost()
{
    return requiredEnv("VFIOD_SOURCE_ROOT") + "/conf/sim-host.toml";
}

std::string CrashTest::slowUnbindHost(const TempDir& dir, int delayMs)
{
    std::string text = readFile(sampleHost());
    for (const std::string& nic : nics())
    {
        std::string line = "address = \"" + nic + "\"\n";
        size_t at = text.find(line);
        EXPECT_NE(at, std::string::npos) << nic;
        text.insert(at + line.size(),
                    "unbind_delay_ms = " + std::to_string(delayMs) + "\n");
    }
    std::string path = dir / "crash-host.toml";
    writeFile(path, text);
    return path;
}

std::string CrashTest::crashConfig()
{
    return "[timeouts]\nunbind_ms = 500\nlease_grace_ms = 60000\n"
           "[daemon]\nplugin_dir = \"" +
           requiredEnv("VFIOD_TEST_PLUGIN_DIR") + "\"\n";
}

void CrashTest::start(const std::vector<std::string>& env)
{
    bus->startVfiod(host, crashConfig(), env);
    connection = bus->connect();
    manager = std::make_unique<ManagerProxy>(*connection);
}

void CrashTest::killVfiod()
{
    manager.reset();
    connection.reset();
    bus->vfiodProcess()->stop(SIGKILL);
}

void CrashTest::checkDevices(const std::string& where)
{
    SimHost sim(host, bus->simState());
    Ledger ledger(bus->simState());
    std::map<PciAddress, LedgerRecord> records = ledger.load();
    for (const std::string& nic : nics())
    {
        PciAddress address = PciAddress::parse(nic);
        SCOPED_TRACE(where + ", " + nic);
        // An unbind still in flight would make the driver read below a
        // moment's truth: vfiod waits for it when it starts.
        EXPECT_FALSE(simtest::pendingIn(bus->simState(), address))
            << bus->vfiodLog();
        std::string link =
            sim.readLinkName("bus/pci/devices/" + nic + "/driver").value_or("");
        auto proxy = device(nic);
        const std::string& hostDriver = bootDrivers().at(nic);
        std::string override =
            sim.read("bus/pci/devices/" + nic + "/driver_override")
                .value_or("");
        ASSERT_TRUE(link == hostDriver || link == "vfio-pci")
            << "driver \"" << link << "\", override " << override << "\n"
            << bus->vfiodLog();
        EXPECT_EQ(proxy->Driver(), link);
        if (link == hostDriver)
        {
            ++seenOnHost;
            EXPECT_FALSE(records.contains(address)) << bus->vfiodLog();
            // A bind's override left behind would send the device to vfio,
            // unrecorded, at its next probe.
            EXPECT_EQ(override, "(null)\n") << bus->vfiodLog();
            EXPECT_EQ(proxy->State(), "host");
            continue;
        }
        // On vfio: vfiod knows where it came from.
        ++seenOnVfio;
        seenAssigned += !proxy->Owner().empty();
        ASSERT_TRUE(records.contains(address)) << bus->vfiodLog();
        EXPECT_EQ(records[address].originalDriver, hostDriver);
        EXPECT_EQ(proxy->OriginalDriver(), hostDriver);
        EXPECT_EQ(proxy->Owner(), records[address].owner);
    }
    std::string log = bus->vfiodLog();
    seenGivenBack += log.find("given back to") != std::string::npos;
    seenDropped += log.find("did not happen") != std::string::npos;
}

} // namespace vfiod::test
