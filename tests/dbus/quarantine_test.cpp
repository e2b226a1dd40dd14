// A plugin that crashes vfiod is quarantined by the restarted daemon: the
// real vfiod on the simulated host with tests/dbus/crashy as its only
// plugin, which aborts in its probe of the device named by
// $VFIOD_TEST_CRASH_PROBE (or in its entry with $VFIOD_TEST_CRASH_LOAD).
// The test is the supervisor: it sees vfiod die and starts it again.
#include "vfiod_fixture.hpp"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>

#include <string>
#include <vector>

namespace vfiod::test
{
namespace
{

constexpr const char* crashDevice = "0000:04:00.0";
constexpr const char* otherDevice = "0000:03:00.0";

std::string crashyConfig()
{
    return "[daemon]\nplugin_dir = \"" +
           requiredEnv("VFIOD_CRASHY_PLUGIN_DIR") + "\"\n";
}

/** Sets an environment variable vfiod inherits, for one test. */
class ScopedEnv
{
  public:
    ScopedEnv(const char* name, const std::string& value) : name(name)
    {
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv()
    {
        ::unsetenv(name);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name;
};

using Quarantined =
    std::vector<sdbus::Struct<std::string, std::string, std::string>>;

class QuarantineTest : public VfiodTest
{
  protected:
    /** The plugin call markers in the state directory, by file name. */
    std::vector<std::string> markers() const
    {
        std::vector<std::string> names;
        std::string dir = bus->simState() + "/plugin-calls";
        if (DIR* d = ::opendir(dir.c_str()))
        {
            while (const dirent* entry = ::readdir(d))
            {
                std::string name = entry->d_name;
                if (name != "." && name != "..")
                {
                    names.push_back(name + "\n" + readFile(dir + "/" + name));
                }
            }
            ::closedir(d);
        }
        return names;
    }

    /** Starts vfiod, which must die of the plugin's abort(). */
    void startAndCrash()
    {
        EXPECT_THROW(startVfiod(crashyConfig()), std::runtime_error);
        ASSERT_NE(bus->vfiodProcess(), nullptr);
        EXPECT_EQ(bus->vfiodProcess()->wait(), 128 + SIGABRT)
            << bus->vfiodLog();
    }

    /** Stops vfiod normally: a clean run. */
    void stop()
    {
        manager.reset();
        connection.reset();
        ASSERT_EQ(bus->stopVfiod(), std::optional<int>(0)) << bus->vfiodLog();
    }

    std::vector<std::string> loadedNames()
    {
        std::vector<std::string> names;
        for (const auto& plugin : manager->Plugins())
        {
            names.push_back(plugin.get<0>());
        }
        return names;
    }
};

TEST_F(QuarantineTest, CrashInProbeQuarantinesThePluginAndServesTheRest)
{
    ScopedEnv crash("VFIOD_TEST_CRASH_PROBE", crashDevice);
    startAndCrash();
    // What the dead run left: the marker of the call it died in.
    std::vector<std::string> left = markers();
    ASSERT_EQ(left.size(), 1u) << bus->vfiodLog();
    EXPECT_NE(left[0].find(".crashed\nvfiod plugin call\n"), std::string::npos)
        << left[0];
    EXPECT_NE(left[0].find("plugin=crashy\nop=probe\ndevice=0000:04:00.0"),
              std::string::npos)
        << left[0];

    // Restarted once, with the crash still armed: vfiod stays up.
    startVfiod(crashyConfig());
    EXPECT_TRUE(loadedNames().empty());
    Quarantined quarantined = manager->QuarantinedPlugins();
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_EQ(quarantined[0].get<0>(), "crashy");
    EXPECT_EQ(quarantined[0].get<1>(),
              requiredEnv("VFIOD_CRASHY_PLUGIN_DIR") + "/crashy.so");
    EXPECT_EQ(quarantined[0].get<2>(),
              "quarantined: vfiod died during its probe of 0000:04:00.0; "
              "not loaded until 3 more runs of vfiod end cleanly, or a "
              "Reload");
    EXPECT_TRUE(markers().empty());
    std::string log = bus->vfiodLog();
    EXPECT_NE(log.find("plugin crashy (crashy.so) quarantined: vfiod died "
                       "during its probe of 0000:04:00.0"),
              std::string::npos)
        << log;

    // The devices fall back to vfiod's generic operations.
    EXPECT_EQ(device(crashDevice)->Plugin(), "");
    auto other = device(otherDevice);
    EXPECT_EQ(other->Plugin(), "");
    other->Bind({});
    EXPECT_EQ(other->Driver(), "vfio-pci");
    other->Unbind({});
    EXPECT_EQ(other->Driver(), "e1000e");

    // vfioctl lists it after the loaded plugins (none here), with why.
    std::string dir = requiredEnv("VFIOD_CRASHY_PLUGIN_DIR");
    CommandResult listed = runCommand(
        {requiredEnv("VFIOCTL"), "--bus-address", bus->address(), "plugins"});
    EXPECT_EQ(listed.status, 0) << listed.output;
    EXPECT_EQ(listed.output,
              "NAME    ABI   PATH\ncrashy  -     " + dir +
                  "/crashy.so\n  quarantined: vfiod died during its probe of "
                  "0000:04:00.0; not loaded until 3 more runs of vfiod end "
                  "cleanly, or a Reload\n");
    CommandResult json = runCommand({requiredEnv("VFIOCTL"), "--bus-address",
                                     bus->address(), "--json", "plugins"});
    EXPECT_EQ(json.status, 0) << json.output;
    EXPECT_NE(json.output.find("\"Name\":\"crashy\""), std::string::npos)
        << json.output;
    EXPECT_NE(json.output.find("\"Status\":\"quarantined: vfiod died"),
              std::string::npos)
        << json.output;
    EXPECT_EQ(json.output.find("AbiMajor"), std::string::npos) << json.output;

    // busctl sees the property with its type.
    CommandResult busctl =
        bus->busctl({"get-property", "org.vfiod1", "/org/vfiod1",
                     "org.vfiod1.Manager", "QuarantinedPlugins"});
    EXPECT_EQ(busctl.status, 0) << busctl.output;
    EXPECT_EQ(busctl.output.rfind("a(sss) 1 \"crashy\"", 0), 0u)
        << busctl.output;
}

TEST_F(QuarantineTest, ReloadLiftsTheQuarantineFromTheNextStart)
{
    {
        ScopedEnv crash("VFIOD_TEST_CRASH_PROBE", crashDevice);
        startAndCrash();
        startVfiod(crashyConfig());
        ASSERT_EQ(manager->QuarantinedPlugins().size(), 1u);

        auto signals = recordSignals();
        manager->Reload();
        // Clients that cache the property hear of the change.
        signals->waitFor(propertyChanged("/org/vfiod1", "QuarantinedPlugins"));
        Quarantined quarantined = manager->QuarantinedPlugins();
        ASSERT_EQ(quarantined.size(), 1u);
        EXPECT_EQ(quarantined[0].get<2>().rfind(
                      "quarantine lifted by Reload, loaded at the next "
                      "start: vfiod died during its probe",
                      0),
                  0u)
            << quarantined[0].get<2>();
        // Still not loaded in this run.
        EXPECT_TRUE(loadedNames().empty());
        stop();
    }
    // The plugin (no longer crashing) is loaded and handles the devices.
    startVfiod(crashyConfig());
    EXPECT_EQ(loadedNames(), std::vector<std::string>{"crashy"});
    EXPECT_TRUE(manager->QuarantinedPlugins().empty());
    EXPECT_EQ(device(otherDevice)->Plugin(), "crashy");
}

TEST_F(QuarantineTest, CleanRunsLiftTheQuarantine)
{
    {
        ScopedEnv crash("VFIOD_TEST_CRASH_PROBE", crashDevice);
        startAndCrash();
        for (const char* left : {"3 more runs", "2 more runs", "1 more run "})
        {
            startVfiod(crashyConfig());
            Quarantined quarantined = manager->QuarantinedPlugins();
            ASSERT_EQ(quarantined.size(), 1u) << left;
            EXPECT_NE(quarantined[0].get<2>().find(left), std::string::npos)
                << quarantined[0].get<2>();
            EXPECT_TRUE(loadedNames().empty());
            stop();
        }
    }
    startVfiod(crashyConfig());
    EXPECT_EQ(loadedNames(), std::vector<std::string>{"crashy"});
    EXPECT_TRUE(manager->QuarantinedPlugins().empty());
}

TEST_F(QuarantineTest, ADeathThatIsNotAPluginsCountsNoCleanRun)
{
    ScopedEnv crash("VFIOD_TEST_CRASH_PROBE", crashDevice);
    startAndCrash();
    startVfiod(crashyConfig());
    manager.reset();
    connection.reset();
    // Killed outside any plugin call: no marker, no clean run.
    EXPECT_EQ(bus->vfiodProcess()->stop(SIGKILL), 128 + SIGKILL);
    startVfiod(crashyConfig());
    Quarantined quarantined = manager->QuarantinedPlugins();
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_NE(quarantined[0].get<2>().find("3 more runs"), std::string::npos)
        << quarantined[0].get<2>();
}

TEST_F(QuarantineTest, CrashWhileLoadingQuarantinesTheLibrary)
{
    ScopedEnv crash("VFIOD_TEST_CRASH_LOAD", "1");
    startAndCrash();
    startVfiod(crashyConfig());
    Quarantined quarantined = manager->QuarantinedPlugins();
    ASSERT_EQ(quarantined.size(), 1u);
    // Its name was never read: the file's stands for it.
    EXPECT_EQ(quarantined[0].get<0>(), "crashy.so");
    EXPECT_EQ(quarantined[0].get<2>().rfind(
                  "quarantined: vfiod died during its load (dlopen and "
                  "vfiod_plugin_entry);",
                  0),
              0u)
        << quarantined[0].get<2>();
}

} // namespace
} // namespace vfiod::test
