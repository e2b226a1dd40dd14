// Who may change device state: root, [access], and polkit (through a mock
// authority on the private bus) for an unprivileged caller running under
// a real second uid (nobody, through setpriv).

#include "base/pci_address.hpp"
#include "sim/sim_host.hpp"
#include "vfiod_fixture.hpp"

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

const std::string nic = "0000:03:00.0";
const std::string denied = "org.freedesktop.DBus.Error.AccessDenied";

class AuthzTest : public VfiodTest
{
  protected:
    void SetUp() override
    {
        if (!canSwitchUser())
        {
            GTEST_SKIP() << "needs root to run a caller as nobody";
        }
        VfiodTest::SetUp();
    }

    /** @brief Runs the test client as nobody. */
    CommandResult asNobody(const std::vector<std::string>& args)
    {
        return runCommand(test::asNobody(bus->clientCommand(args)));
    }

    CommandResult nobodyCalls(const std::string& address,
                              const std::string& method,
                              const std::vector<std::string>& options = {})
    {
        std::vector<std::string> args{"call", pathOf(address), method};
        args.insert(args.end(), options.begin(), options.end());
        return asNobody(args);
    }
};

bool refused(const CommandResult& result)
{
    return result.status == 1 &&
           result.output.rfind("error " + denied + ":", 0) == 0;
}

TEST_F(AuthzTest, ReadingIsOpenToEverybody)
{
    bus->startPolkit("* = no");
    startVfiod();
    auto get = runCommand(test::asNobody(
        {"busctl", "--address=" + bus->address(), "get-property", "org.vfiod1",
         pathOf(nic), "org.vfiod1.Device", "Driver"}));
    EXPECT_EQ(get.output, "s \"e1000e\"\n");
    auto list = runCommand(test::asNobody(
        {"busctl", "--address=" + bus->address(), "call", "org.vfiod1",
         "/org/vfiod1", "org.vfiod1.Manager", "ListDevices"}));
    EXPECT_EQ(list.status, 0) << list.output;
    EXPECT_EQ(bus->polkitLog(), "");
}

TEST_F(AuthzTest, PolkitDenies)
{
    bus->startPolkit("* = no");
    startVfiod();
    auto result = nobodyCalls(nic, "Bind");
    EXPECT_TRUE(refused(result)) << result.output;
    EXPECT_EQ(device(nic)->Driver(), "e1000e");

    // polkit was asked about the right action, for the caller's bus name,
    // without interaction, with the device's details.
    std::string log = bus->polkitLog();
    EXPECT_NE(log.find("action=org.vfiod1.bind "), std::string::npos) << log;
    EXPECT_NE(log.find("subject=system-bus-name::1."), std::string::npos)
        << log;
    EXPECT_NE(log.find("flags=0 "), std::string::npos) << log;
    for (const char* detail : {"address=0000:03:00.0", "vendor=8086",
                               "device=10d3", "iommu_group=10"})
    {
        EXPECT_NE(log.find(detail), std::string::npos) << detail << "\n" << log;
    }
}

TEST_F(AuthzTest, PolkitAllows)
{
    bus->startPolkit("org.vfiod1.bind = yes\n* = no\n");
    startVfiod();
    auto bind = nobodyCalls(nic, "Bind");
    EXPECT_EQ(bind.output, "ok\n");
    EXPECT_EQ(device(nic)->Driver(), "vfio-pci");

    // One action per verb: reset is a different question.
    auto reset = nobodyCalls(nic, "Reset");
    EXPECT_TRUE(refused(reset)) << reset.output;
    EXPECT_NE(bus->polkitLog().find("action=org.vfiod1.reset "),
              std::string::npos);

    bus->setPolkitRules("org.vfiod1.reset = yes\n* = no\n");
    EXPECT_EQ(nobodyCalls(nic, "Reset").output, "ok\n");
}

TEST_F(AuthzTest, ForceAsksForManageToo)
{
    // A device on vfio held open by a VMM vfiod did not start.
    bus->startPolkit("org.vfiod1.bind = yes\n* = no\n");
    startVfiod();
    device(nic)->Bind({});
    SimHost vm(hostFile(), bus->simState());
    vm.openDevice(PciAddress::parse(nic));

    auto plain = nobodyCalls(nic, "Unbind");
    EXPECT_EQ(plain.output.rfind("error org.vfiod1.Error.InUse:", 0), 0u)
        << plain.output;
    // Allowed to unbind, but not to override the in-use check.
    auto forced = nobodyCalls(nic, "Unbind", {"force:b=true"});
    EXPECT_TRUE(refused(forced)) << forced.output;
    EXPECT_NE(bus->polkitLog().find("action=org.vfiod1.manage "),
              std::string::npos)
        << bus->polkitLog();
    EXPECT_EQ(device(nic)->Driver(), "vfio-pci");
    EXPECT_EQ(bus->vfiodLog().find("in-use check is skipped"),
              std::string::npos);
    vm.closeDevice(PciAddress::parse(nic));
}

// A SetMigrationState argument is the caller's text: a megabyte of it with
// line breaks and an escape sequence, meant to forge lines in the log.
std::string hostileState()
{
    return "BAD\nFORGED \x1b[31mred" + std::string(1 << 20, 'A');
}

TEST_F(AuthzTest, UnauthorizedMigrationArgumentIsNeverLogged)
{
    bus->startPolkit("* = no");
    startVfiod();
    std::string file = bus->dir() / "state";
    writeFile(file, hostileState());
    auto result = asNobody({"set-state", pathOf(nic), file});
    // Authorized before the argument is looked at: refused as the caller,
    // not for the state, and nothing of the state reaches the log.
    EXPECT_TRUE(refused(result)) << result.output.substr(0, 300);
    EXPECT_EQ(result.output.find("FORGED"), std::string::npos);
    std::string log = bus->vfiodLog();
    EXPECT_NE(log.find("SetMigrationState " + nic), std::string::npos) << log;
    EXPECT_EQ(log.find("FORGED"), std::string::npos) << log.substr(0, 2000);
    EXPECT_EQ(log.find("AAAA"), std::string::npos) << log.substr(0, 2000);
    EXPECT_EQ(log.find('\x1b'), std::string::npos);
}

TEST_F(AuthzTest, BadMigrationStateIsQuotedCappedAndEscaped)
{
    bus->startPolkit("* = no");
    startVfiod();
    std::string file = bus->dir() / "state";
    writeFile(file, hostileState());
    // As root: authorized, then refused for the state, which the reply and
    // the log quote cut to 64 bytes, escaped.
    auto result =
        runCommand(bus->clientCommand({"set-state", pathOf(nic), file}));
    std::string quote = "\"BAD\\nFORGED \\x1b[31mred" + std::string(45, 'A') +
                        "…(" + std::to_string(hostileState().size() - 64) +
                        " bytes cut)\"";
    EXPECT_EQ(result.status, 1);
    EXPECT_EQ(result.output,
              "error org.vfiod1.Error.InvalidArgument: SetMigrationState " +
                  nic + ": unknown migration state " + quote +
                  " (STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, "
                  "PRE_COPY, PRE_COPY_P2P)\n");
    std::string log = bus->vfiodLog();
    EXPECT_NE(log.find("unknown migration state " + quote), std::string::npos)
        << log.substr(0, 2000);
    EXPECT_EQ(log.find("\nFORGED"), std::string::npos);
    EXPECT_EQ(log.find('\x1b'), std::string::npos);
    EXPECT_LT(log.size(), 64u * 1024);
}

TEST_F(AuthzTest, ReloadAsksForManage)
{
    bus->startPolkit("* = no");
    startVfiod();
    EXPECT_TRUE(refused(asNobody({"reload"})));
    EXPECT_NE(bus->polkitLog().find("action=org.vfiod1.manage "),
              std::string::npos);
    bus->setPolkitRules("org.vfiod1.manage = yes\n");
    EXPECT_EQ(asNobody({"reload"}).output, "ok\n");
}

TEST_F(AuthzTest, ChallengeIsRefusedWithAHint)
{
    bus->startPolkit("* = challenge");
    startVfiod();
    auto result = nobodyCalls(nic, "Bind");
    EXPECT_TRUE(refused(result)) << result.output;
    EXPECT_NE(result.output.find("pkexec"), std::string::npos) << result.output;
}

TEST_F(AuthzTest, NoPolkitMeansNo)
{
    startVfiod();
    auto result = nobodyCalls(nic, "Bind");
    EXPECT_TRUE(refused(result)) << result.output;
    EXPECT_NE(result.output.find("polkit"), std::string::npos) << result.output;
    // Root needs no polkit.
    device(nic)->Bind({});
}

TEST_F(AuthzTest, RootNeverAsksPolkit)
{
    bus->startPolkit("* = no");
    startVfiod();
    device(nic)->Bind({});
    device(nic)->Reset({});
    manager->Reload();
    EXPECT_EQ(bus->polkitLog(), "");
}

TEST_F(AuthzTest, AccessUsersAndGroupsSkipPolkit)
{
    bus->startPolkit("* = no");
    startVfiod(std::string(defaultConfig) + "[access]\nusers = [\"nobody\"]\n");
    EXPECT_EQ(nobodyCalls(nic, "Bind").output, "ok\n");

    // Groups count too (nobody's primary group is nogroup); a reload
    // applies at once.
    writeFile(bus->configPath(), "[access]\ngroups = [\"nogroup\"]\n");
    manager->Reload();
    EXPECT_EQ(nobodyCalls(nic, "Unbind").output, "ok\n");

    writeFile(bus->configPath(), "[access]\ngroups = [\"root\"]\n");
    manager->Reload();
    EXPECT_TRUE(refused(nobodyCalls(nic, "Bind")));
    EXPECT_NE(bus->polkitLog().find("action=org.vfiod1.bind"),
              std::string::npos);
}

TEST_F(AuthzTest, OnlyTheOwnerReleases)
{
    bus->startPolkit("org.vfiod1.assign = yes\n");
    startVfiod();
    auto dev = device("0000:08:00.0");
    sdbus::UnixFd lease = dev->Assign({});

    auto result = nobodyCalls("0000:08:00.0", "Release");
    EXPECT_EQ(result.output.rfind("error org.vfiod1.Error.Busy:", 0), 0u)
        << result.output;
    EXPECT_EQ(dev->State(), "assigned");
    dev->Release({});

    // nobody's own assignment, released from another connection of
    // nobody's.
    ChildProcess holder(
        test::asNobody(bus->clientCommand({"hold", pathOf("0000:08:00.0")})),
        bus->dir() / "holder.log");
    ASSERT_TRUE(bus->waitFor([&] { return dev->State() == "assigned"; }))
        << readFile(bus->dir() / "holder.log");
    EXPECT_NE(dev->Owner().find(" uid=65534"), std::string::npos);
    EXPECT_EQ(nobodyCalls("0000:08:00.0", "Release").output, "ok\n");
    EXPECT_EQ(dev->State(), "vfio");
}

TEST_F(AuthzTest, TheOwnerDecidesOverAnAssignedDevice)
{
    // nobody may manage devices ([access]), but not another user's guest.
    bus->startPolkit("* = no");
    startVfiod(std::string(defaultConfig) + "[access]\nusers = [\"nobody\"]\n");
    auto dev = device("0000:08:00.0");
    sdbus::UnixFd lease = dev->Assign({});
    std::string owner = dev->Owner();

    // Reset, and the migration calls (CancelMigration stands for them: the
    // check comes before the device is asked anything).
    for (const std::string method : {"Reset", "CancelMigration"})
    {
        auto result = nobodyCalls("0000:08:00.0", method);
        EXPECT_EQ(result.output.rfind("error org.vfiod1.Error.Busy: " + method +
                                          " 0000:08:00.0: assigned to " +
                                          owner + "; only that user or root",
                                      0),
                  0u)
            << method << ": " << result.output;
    }
    EXPECT_EQ(dev->State(), "assigned");
    EXPECT_EQ(dev->Owner(), owner);
    EXPECT_EQ(dev->LastError(), "");
    // Root (the owner here) still may.
    EXPECT_EQ(errorOf([&] { dev->Reset({}); }), "");
}

TEST_F(AuthzTest, NoMemberOfAnAssignedGroupLeavesVfio)
{
    bus->startPolkit("* = no");
    startVfiod(std::string(defaultConfig) + "[access]\nusers = [\"nobody\"]\n");
    // The NIC and its audio function share IOMMU group 11.
    auto nicFunction = device("0000:04:00.0");
    auto audio = device("0000:04:00.1");
    nicFunction->Bind({{"group", sdbus::Variant(true)}});
    ASSERT_EQ(audio->Driver(), "vfio-pci");
    sdbus::UnixFd lease = nicFunction->Assign({});

    auto result = nobodyCalls("0000:04:00.1", "Unbind");
    EXPECT_EQ(result.output.rfind("error org.vfiod1.Error.Busy:", 0), 0u)
        << result.output;
    EXPECT_NE(result.output.find("0000:04:00.0 of its IOMMU group 11 is "
                                 "assigned"),
              std::string::npos)
        << result.output;
    // Root neither: the guest keeps a viable group.
    EXPECT_EQ(errorOf([&] { audio->Unbind({}); }), "org.vfiod1.Error.Busy");
    EXPECT_EQ(audio->Driver(), "vfio-pci");

    nicFunction->Release({});
    audio->Unbind({});
    EXPECT_EQ(audio->Driver(), "snd_hda_intel");
}

} // namespace
} // namespace vfiod::test
