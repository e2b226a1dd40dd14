#include "vfiod_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <iostream>

namespace vfiod::test
{

void VfiodTest::SetUp()
{
    // vfiod itself is started by each test: some need polkit up first, or
    // a configuration of their own.
    bus = std::make_unique<VfiodBus>();
}

void VfiodTest::TearDown()
{
    manager.reset();
    connection.reset();
    if (bus && bus->vfiodProcess() != nullptr && expectCleanExit)
    {
        // SIGTERM ends vfiod cleanly, whatever the test did.
        auto status = bus->stopVfiod();
        EXPECT_EQ(status, std::optional<int>(0)) << bus->vfiodLog();
    }
    if (HasFailure() && bus)
    {
        std::cerr << "---- vfiod log ----\n" << bus->vfiodLog() << "----\n";
    }
    bus.reset();
}

void VfiodTest::startVfiod(const std::string& config)
{
    bus->startVfiod(hostFile(), config);
    connection = bus->connect();
    manager = std::make_unique<ManagerProxy>(*connection);
}

std::string VfiodTest::hostFile()
{
    return requiredEnv("VFIOD_SOURCE_ROOT") + "/tests/dbus/test-host.toml";
}

std::string VfiodTest::pathOf(const std::string& address)
{
    std::string element = "pci_" + address;
    for (char& c : element)
    {
        if (c == ':' || c == '.')
        {
            c = '_';
        }
    }
    return "/org/vfiod1/devices/" + element;
}

std::unique_ptr<DeviceProxy> VfiodTest::device(const std::string& address)
{
    return std::make_unique<DeviceProxy>(*connection,
                                         manager->GetDevice(address));
}

std::unique_ptr<SignalRecorder> VfiodTest::recordSignals()
{
    return std::make_unique<SignalRecorder>(bus->connect());
}

std::string VfiodTest::errorOf(const std::function<void()>& call)
{
    return failureOf(call).first;
}

std::pair<std::string, std::string>
    VfiodTest::failureOf(const std::function<void()>& call)
{
    try
    {
        call();
    }
    catch (const sdbus::Error& e)
    {
        return {e.getName(), e.getMessage()};
    }
    return {"", ""};
}

bool VfiodTest::canSwitchUser()
{
    return ::geteuid() == 0;
}

} // namespace vfiod::test
