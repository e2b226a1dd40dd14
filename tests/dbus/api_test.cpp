// org.vfiod1 as a client sees it: introspection, properties, every method's
// success path and every error name, through the generated proxies and
// busctl.

#include "vfiod_fixture.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

using Options = std::map<std::string, sdbus::Variant>;

const std::string nic = "0000:03:00.0";

class ApiTest : public VfiodTest
{
  protected:
    void SetUp() override
    {
        VfiodTest::SetUp();
        startVfiod();
    }
};

TEST_F(ApiTest, IntrospectionShowsTheContract)
{
    auto root = bus->busctl({"introspect", "org.vfiod1", "/org/vfiod1"});
    ASSERT_EQ(root.status, 0) << root.output;
    EXPECT_NE(root.output.find("org.vfiod1.Manager"), std::string::npos);
    EXPECT_NE(root.output.find("org.freedesktop.DBus.ObjectManager"),
              std::string::npos);
    EXPECT_NE(root.output.find(".GetDevice"), std::string::npos);
    EXPECT_NE(root.output.find(".Reload"), std::string::npos);

    auto dev = bus->busctl({"introspect", "org.vfiod1", pathOf(nic)});
    ASSERT_EQ(dev.status, 0) << dev.output;
    for (const char* member :
         {"org.vfiod1.Device", ".Bind", ".Unbind", ".Assign", ".Release",
          ".Reset", ".ResetMethods", ".IommuGroup", ".MigrationState"})
    {
        EXPECT_NE(dev.output.find(member), std::string::npos) << member;
    }
}

TEST_F(ApiTest, ManagerPropertiesThroughBusctl)
{
    auto backend = bus->busctl({"get-property", "org.vfiod1", "/org/vfiod1",
                                "org.vfiod1.Manager", "Backend"});
    EXPECT_EQ(backend.output, "s \"sim\"\n");
    auto version = bus->busctl({"get-property", "org.vfiod1", "/org/vfiod1",
                                "org.vfiod1.Manager", "Version"});
    EXPECT_EQ(version.output, "s \"" + requiredEnv("VFIOD_VERSION") + "\"\n");

    EXPECT_EQ(manager->Backend(), "sim");
}

TEST_F(ApiTest, GetDeviceAndListDevicesThroughBusctl)
{
    auto get = bus->busctl({"call", "org.vfiod1", "/org/vfiod1",
                            "org.vfiod1.Manager", "GetDevice", "s", "03:00.0"});
    EXPECT_EQ(get.output, "o \"" + pathOf(nic) + "\"\n");

    auto list = bus->busctl({"call", "org.vfiod1", "/org/vfiod1",
                             "org.vfiod1.Manager", "ListDevices"});
    EXPECT_EQ(list.output.rfind("ao ", 0), 0u) << list.output;
    EXPECT_NE(list.output.find(pathOf(nic)), std::string::npos);

    auto objects = bus->busctl({"call", "org.vfiod1", "/org/vfiod1",
                                "org.freedesktop.DBus.ObjectManager",
                                "GetManagedObjects"});
    EXPECT_NE(objects.output.find(pathOf(nic)), std::string::npos);
    EXPECT_NE(objects.output.find("org.vfiod1.Device"), std::string::npos);
}

TEST_F(ApiTest, ListDevicesIsSortedAndComplete)
{
    std::vector<sdbus::ObjectPath> expected;
    for (const char* address :
         {"0000:00:1c.0", "0000:03:00.0", "0000:04:00.0", "0000:04:00.1",
          "0000:05:00.0", "0000:06:00.0", "0000:07:00.0", "0000:08:00.0"})
    {
        expected.emplace_back(pathOf(address));
    }
    auto devices = manager->ListDevices();
    // The host file's 8 devices, plus whatever the simulated chipset adds.
    for (const auto& path : expected)
    {
        EXPECT_NE(std::find(devices.begin(), devices.end(), path),
                  devices.end())
            << path;
    }
    EXPECT_TRUE(std::is_sorted(devices.begin(), devices.end()));
}

TEST_F(ApiTest, GetDeviceAcceptsBothForms)
{
    EXPECT_EQ(manager->GetDevice("0000:03:00.0"), pathOf(nic));
    EXPECT_EQ(manager->GetDevice("03:00.0"), pathOf(nic));
}

TEST_F(ApiTest, GetDeviceErrors)
{
    EXPECT_EQ(errorOf([&] { manager->GetDevice("3:0.0"); }),
              "org.vfiod1.Error.InvalidArgument");
    EXPECT_EQ(errorOf([&] { manager->GetDevice("0000:03:00.0/../x"); }),
              "org.vfiod1.Error.InvalidArgument");
    EXPECT_EQ(errorOf([&] { manager->GetDevice("0000:09:00.0"); }),
              "org.vfiod1.Error.NotFound");
}

TEST_F(ApiTest, DeviceProperties)
{
    auto dev = device(nic);
    EXPECT_EQ(dev->Address(), nic);
    EXPECT_EQ(dev->VendorId(), 0x8086);
    EXPECT_EQ(dev->DeviceId(), 0x10d3);
    EXPECT_EQ(dev->SubsystemVendorId(), 0x8086);
    EXPECT_EQ(dev->SubsystemDeviceId(), 0xa01f);
    EXPECT_EQ(dev->Class(), 0x020000u);
    EXPECT_EQ(dev->Driver(), "e1000e");
    EXPECT_EQ(dev->OriginalDriver(), "");
    EXPECT_EQ(dev->IommuGroup(), 10);
    EXPECT_EQ(dev->State(), "host");
    EXPECT_EQ(dev->Owner(), "");
    EXPECT_EQ(dev->Plugin(), "");
    EXPECT_EQ(dev->LastError(), "");
    EXPECT_EQ(dev->ResetMethods(), (std::vector<std::string>{"flr", "bus"}));
    EXPECT_TRUE(dev->MigrationFlags().empty());
    EXPECT_EQ(dev->MigrationState(), "");

    auto state = bus->busctl({"get-property", "org.vfiod1", pathOf(nic),
                              "org.vfiod1.Device", "State"});
    EXPECT_EQ(state.output, "s \"host\"\n");
}

TEST_F(ApiTest, BindAndUnbindEmitPropertiesChanged)
{
    auto dev = device(nic);
    auto signals = recordSignals();

    dev->Bind({});
    EXPECT_EQ(dev->Driver(), "vfio-pci");
    EXPECT_EQ(dev->State(), "vfio");
    EXPECT_EQ(dev->OriginalDriver(), "e1000e");
    signals->waitFor(propertyChanged(pathOf(nic), "Driver"));
    signals->waitFor(propertyChanged(pathOf(nic), "State"));

    // Idempotent.
    dev->Bind({{"driver", sdbus::Variant(std::string("vfio-pci"))}});

    signals->clear();
    dev->Unbind({});
    EXPECT_EQ(dev->Driver(), "e1000e");
    EXPECT_EQ(dev->State(), "host");
    signals->waitFor(propertyChanged(pathOf(nic), "State"));
    // Identity properties never change, so they are never announced.
    for (const auto& signal : signals->signals())
    {
        for (const auto& name : signal.names)
        {
            EXPECT_NE(name, "VendorId");
            EXPECT_NE(name, "Address");
        }
    }
}

TEST_F(ApiTest, BindThroughBusctl)
{
    auto call =
        bus->busctl({"call", "org.vfiod1", pathOf(nic), "org.vfiod1.Device",
                     "Bind", "a{sv}", "1", "driver", "s", "vfio-pci"});
    EXPECT_EQ(call.status, 0) << call.output;
    EXPECT_EQ(device(nic)->Driver(), "vfio-pci");
}

TEST_F(ApiTest, OptionsAreCheckedStrictly)
{
    auto dev = device(nic);
    const std::string invalid = "org.vfiod1.Error.InvalidArgument";
    EXPECT_EQ(errorOf([&] {
                  dev->Bind({{"bogus", sdbus::Variant(std::string("x"))}});
              }),
              invalid);
    EXPECT_EQ(errorOf([&] {
                  dev->Bind({{"driver", sdbus::Variant(5u)}});
              }),
              invalid);
    EXPECT_EQ(errorOf([&] {
                  dev->Unbind({{"driver", sdbus::Variant(std::string("x"))}});
              }),
              invalid);
    EXPECT_EQ(errorOf([&] {
                  dev->Reset({{"method", sdbus::Variant(true)}});
              }),
              invalid);
    EXPECT_EQ(errorOf([&] {
                  dev->Release({{"force", sdbus::Variant(true)}});
              }),
              invalid);
    // A driver that is not a vfio driver is refused by the binder.
    EXPECT_EQ(
        errorOf([&] {
            dev->Bind({{"driver", sdbus::Variant(std::string("e1000e"))}});
        }),
        invalid);
    EXPECT_EQ(dev->Driver(), "e1000e");
}

TEST_F(ApiTest, BridgeIsNotSupported)
{
    auto bridge = device("0000:00:1c.0");
    EXPECT_EQ(errorOf([&] { bridge->Bind({}); }),
              "org.vfiod1.Error.NotSupported");
    EXPECT_EQ(errorOf([&] { bridge->Reset({}); }),
              "org.vfiod1.Error.NotSupported");
}

TEST_F(ApiTest, SharedGroupIsNotViable)
{
    auto [name, message] = failureOf([&] { device("0000:04:00.0")->Bind({}); });
    EXPECT_EQ(name, "org.vfiod1.Error.NotViable");
    // The message names the device in the way.
    EXPECT_NE(message.find("0000:04:00.1"), std::string::npos) << message;
    EXPECT_EQ(device("0000:04:00.0")->Driver(), "e1000e");
}

TEST_F(ApiTest, WholeGroupBindTakesTheSiblingToo)
{
    EXPECT_EQ(errorOf([&] {
                  device("0000:04:00.0")
                      ->Bind({{"group", sdbus::Variant(std::string("yes"))}});
              }),
              "org.vfiod1.Error.InvalidArgument");
    auto call = bus->busctl({"call", "org.vfiod1", pathOf("0000:04:00.0"),
                             "org.vfiod1.Device", "Bind", "a{sv}", "2",
                             "driver", "s", "vfio-pci", "group", "b", "true"});
    EXPECT_EQ(call.status, 0) << call.output;
    EXPECT_EQ(device("0000:04:00.0")->Driver(), "vfio-pci");
    EXPECT_EQ(device("0000:04:00.1")->Driver(), "vfio-pci");
    EXPECT_EQ(device("0000:04:00.1")->OriginalDriver(), "snd_hda_intel");

    device("0000:04:00.1")->Unbind({});
    device("0000:04:00.0")->Unbind({});
    EXPECT_EQ(device("0000:04:00.0")->Driver(), "e1000e");
    EXPECT_EQ(device("0000:04:00.1")->Driver(), "snd_hda_intel");
}

TEST_F(ApiTest, FailedProbeIsRolledBack)
{
    auto dev = device("0000:05:00.0");
    EXPECT_EQ(errorOf([&] { dev->Bind({}); }), "org.vfiod1.Error.Failed");
    EXPECT_EQ(dev->Driver(), "e1000e");
    EXPECT_EQ(dev->State(), "host");
    EXPECT_NE(dev->LastError(), "");
}

TEST_F(ApiTest, SlowUnbindTimesOut)
{
    // vfiod again, with an unbind timeout below 06:00.0's unbind delay.
    ASSERT_EQ(bus->stopVfiod(), std::optional<int>(0)) << bus->vfiodLog();
    startVfiod(slowUnbindConfig);
    auto dev = device("0000:06:00.0");
    EXPECT_EQ(errorOf([&] { dev->Bind({}); }), "org.vfiod1.Error.TimedOut");
}

TEST_F(ApiTest, ResetMethods)
{
    auto dev = device(nic);
    dev->Reset({});
    dev->Reset({{"method", sdbus::Variant(std::string("flr"))}});
    EXPECT_EQ(errorOf([&] {
                  dev->Reset({{"method", sdbus::Variant(std::string("pm"))}});
              }),
              "org.vfiod1.Error.NotSupported");
}

TEST_F(ApiTest, AssignGivesALeaseAndReleaseEndsIt)
{
    auto dev = device("0000:08:00.0");
    EXPECT_EQ(errorOf([&] { dev->Release({}); }), "org.vfiod1.Error.NotFound");
    auto signals = recordSignals();
    sdbus::UnixFd lease = dev->Assign({});
    EXPECT_TRUE(lease.isValid());
    EXPECT_EQ(dev->State(), "assigned");
    EXPECT_EQ(dev->Driver(), "vfio-pci");
    EXPECT_EQ(dev->Owner(), connection->getUniqueName() +
                                " uid=" + std::to_string(::getuid()));
    signals->waitFor(propertyChanged(pathOf("0000:08:00.0"), "Owner"));

    EXPECT_EQ(errorOf([&] { dev->Assign({}); }), "org.vfiod1.Error.Busy");
    // Assigned: give it back with Release first.
    EXPECT_EQ(errorOf([&] { dev->Unbind({}); }), "org.vfiod1.Error.Busy");

    dev->Release({});
    EXPECT_EQ(dev->State(), "vfio");
    EXPECT_EQ(dev->Owner(), "");

    // Released: vfiod closed its end of the lease.
    EXPECT_TRUE(bus->waitFor([&] {
        char byte = 0;
        return ::read(lease.get(), &byte, 1) == 0;
    }));
}

TEST_F(ApiTest, ClosingTheLeaseReleases)
{
    auto dev = device("0000:08:00.0");
    {
        sdbus::UnixFd lease = dev->Assign({});
        EXPECT_EQ(dev->State(), "assigned");
    }
    EXPECT_TRUE(bus->waitFor([&] { return dev->State() == "vfio"; }));
    EXPECT_EQ(dev->Owner(), "");
    // And it can be assigned again.
    sdbus::UnixFd again = dev->Assign({});
    EXPECT_EQ(dev->State(), "assigned");
}

TEST_F(ApiTest, ReloadKeepsTheOldConfigOnError)
{
    manager->Reload();

    writeFile(bus->configPath(), "[daemon]\nlog_level = \"loud\"\n");
    auto [name, message] = failureOf([&] { manager->Reload(); });
    EXPECT_EQ(name, "org.vfiod1.Error.InvalidArgument");
    EXPECT_NE(message.find("vfiod.toml:2:"), std::string::npos) << message;

    writeFile(bus->configPath(), "[daemon]\nlog_level = \"debug\"\n");
    manager->Reload();
}

TEST_F(ApiTest, SighupReloads)
{
    writeFile(bus->configPath(), "[daemon]\nbogus = 1\n");
    ::kill(bus->vfiodProcess()->pid(), SIGHUP);
    EXPECT_TRUE(bus->waitFor([&] {
        return bus->vfiodLog().find("reload failed") != std::string::npos;
    }));
    // Still serving.
    EXPECT_EQ(manager->GetDevice(nic), pathOf(nic));
}

} // namespace
} // namespace vfiod::test
