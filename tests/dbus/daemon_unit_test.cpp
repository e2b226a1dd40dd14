// The bus-free pieces of the daemon: configuration, error mapping, option
// parsing, the worker pool and the property diff.

#include "authz.hpp"
#include "authz_table.hpp"
#include "base/error.hpp"
#include "call_limits.hpp"
#include "config/daemon_config.hpp"
#include "device_adaptor.hpp"
#include "error_map.hpp"
#include "method_options.hpp"
#include "options.hpp"
#include "test_support.hpp"
#include "worker_pool.hpp"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace vfiod::daemon
{
namespace
{

using namespace std::chrono_literals;

std::string configError(const std::string& text)
{
    try
    {
        parseDaemonConfig(text, "vfiod.toml");
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
        return e.what();
    }
    return "";
}

TEST(DaemonConfig, EmptyMeansDefaults)
{
    DaemonConfig config = parseDaemonConfig("", "vfiod.toml");
    EXPECT_EQ(config.logLevel, LogLevel::Info);
    EXPECT_EQ(config.roots.sysfs, "/sys");
    EXPECT_TRUE(config.access.users.empty());
    EXPECT_EQ(config.timeouts.unbind, 10s);
    EXPECT_EQ(config.groupWait, 30s);
}

TEST(DaemonConfig, ShippedFileParsesToDefaults)
{
    std::string source = vfiod::test::requiredEnv("VFIOD_SOURCE_ROOT");
    DaemonConfig config = loadDaemonConfig(source + "/conf/vfiod.toml");
    DaemonConfig defaults;
    EXPECT_EQ(config.logLevel, defaults.logLevel);
    EXPECT_EQ(config.stateDir, defaults.stateDir);
    EXPECT_EQ(config.timeouts.reset, defaults.timeouts.reset);
    EXPECT_EQ(config.migrationIdle, defaults.migrationIdle);
    EXPECT_EQ(config.limits.maxCallsPerCaller,
              defaults.limits.maxCallsPerCaller);
}

TEST(DaemonConfig, EverySetting)
{
    DaemonConfig config = parseDaemonConfig(R"(
[daemon]
log_level = "debug"
state_dir = "/var/tmp/vfiod"
plugin_dir = "/opt/vfiod/plugins"
[roots]
sysfs = "/tmp/sys"
dev = "/tmp/dev"
proc = "/tmp/proc"
modules = "/tmp/modules"
modprobe = "/bin/true"
[access]
users = ["alice", "bob"]
groups = ["kvm"]
[timeouts]
unbind_ms = 100
probe_ms = 200
dev_node_ms = 300
reset_ms = 400
group_wait_ms = 500
migration_idle_ms = 600
[limits]
max_calls_per_caller = 7
max_queued_per_device = 8
max_workers = 9
)",
                                            "vfiod.toml");
    EXPECT_EQ(config.logLevel, LogLevel::Debug);
    EXPECT_EQ(config.stateDir, "/var/tmp/vfiod");
    EXPECT_EQ(config.pluginDir, "/opt/vfiod/plugins");
    EXPECT_EQ(config.roots.modprobe, "/bin/true");
    EXPECT_EQ(config.roots.proc, "/tmp/proc");
    EXPECT_EQ(config.access.users, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(config.access.groups, std::vector<std::string>{"kvm"});
    ManagerOptions options = managerOptions(config);
    EXPECT_EQ(options.timeouts.unbind, 100ms);
    EXPECT_EQ(options.timeouts.probe, 200ms);
    EXPECT_EQ(options.timeouts.devNode, 300ms);
    EXPECT_EQ(options.timeouts.reset, 400ms);
    EXPECT_EQ(options.groupLockWait, 500ms);
    EXPECT_EQ(config.migrationIdle, 600ms);
    EXPECT_EQ(config.limits.maxCallsPerCaller, 7u);
    EXPECT_EQ(config.limits.maxQueuedPerDevice, 8u);
    EXPECT_EQ(config.limits.maxWorkers, 9u);
}

TEST(DaemonConfig, ErrorsNameFileLineAndColumn)
{
    EXPECT_EQ(configError("[daemon]\nloglevel = \"info\"\n")
                  .rfind("vfiod.toml:2:1: unknown key \"daemon.loglevel\"", 0),
              0u);
    EXPECT_EQ(configError("[deamon]\n").rfind("vfiod.toml:1:2: unknown key", 0),
              0u);
    EXPECT_EQ(configError("[daemon]\nlog_level = \"loud\"\n")
                  .rfind("vfiod.toml:2:13:", 0),
              0u);
    EXPECT_EQ(configError("[timeouts]\nprobe_ms = \"1s\"\n")
                  .rfind("vfiod.toml:2:12: \"timeouts.probe_ms\" must be an "
                         "integer",
                         0),
              0u);
    EXPECT_NE(configError("[timeouts]\nprobe_ms = 0\n").find("out of range"),
              std::string::npos);
    EXPECT_NE(configError("[limits]\nmax_calls_per_caller = 0\n")
                  .find("out of range"),
              std::string::npos);
    EXPECT_NE(configError("[roots]\nsysfs = \"sys\"\n").find("absolute"),
              std::string::npos);
    EXPECT_NE(configError("[access]\nusers = \"alice\"\n").find("array"),
              std::string::npos);
    EXPECT_EQ(configError("[access]\nusers = [\"alice\", 3]\n")
                  .rfind("vfiod.toml:2:19:", 0),
              0u);
    EXPECT_NE(configError("daemon = 1\n").find("must be a table"),
              std::string::npos);
    // [access] names follow the same rule as a policy rule's users.
    EXPECT_EQ(configError("[access]\ngroups = [\"kvm\", \"a:b\"]\n")
                  .rfind("vfiod.toml:2:18: \"a:b\" in \"access.groups\" is "
                         "not a user or group name",
                         0),
              0u);
    // Syntax errors too.
    EXPECT_EQ(configError("[daemon\n").rfind("vfiod.toml:1:", 0), 0u);
}

TEST(DaemonConfig, AccessNames)
{
    // Names useradd makes, POSIX's portable ones, and the decimal uid of a
    // caller without an account.
    DaemonConfig config = parseDaemonConfig(
        "[access]\nusers = [\"alice\", \"John.Doe\", \"1000\"]\n"
        "groups = [\"svc_vm-1$\"]\n",
        "vfiod.toml");
    EXPECT_EQ(config.access.users,
              (std::vector<std::string>{"alice", "John.Doe", "1000"}));
    EXPECT_EQ(config.access.groups, std::vector<std::string>{"svc_vm-1$"});
}

TEST(DaemonConfig, MissingFileIsNotFound)
{
    try
    {
        loadDaemonConfig("/nonexistent/vfiod.toml");
        FAIL();
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::NotFound);
    }
}

/** @brief The message loadDaemonConfig() refuses @p path with. */
std::string loadError(const std::string& path)
{
    try
    {
        loadDaemonConfig(path);
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

// A configuration that is not a regular file is refused, never waited on
// (a FIFO without a writer), read without end (/dev/zero) or read as empty
// (a directory).
TEST(DaemonConfig, FifoIsRefusedWithoutWaiting)
{
    test::TempDir tmp;
    std::string fifo = tmp / "vfiod.toml";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(loadError(fifo), fifo + ": not a regular file (FIFO)");
}

TEST(DaemonConfig, DirectoryIsRefused)
{
    test::TempDir tmp;
    std::filesystem::create_directory(tmp / "vfiod.toml");
    EXPECT_EQ(loadError(tmp / "vfiod.toml"),
              tmp / "vfiod.toml" + ": is a directory");
}

TEST(DaemonConfig, LinkToDevZeroIsRefused)
{
    test::TempDir tmp;
    std::filesystem::create_symlink("/dev/zero", tmp / "vfiod.toml");
    EXPECT_EQ(loadError(tmp / "vfiod.toml"),
              tmp / "vfiod.toml" + ": not a regular file (character device)");
}

TEST(DaemonConfig, OversizedFileIsRefused)
{
    test::TempDir tmp;
    // A comment that parses, just over 1 MiB.
    std::string path =
        tmp.write("vfiod.toml", std::string(1 << 20, '#') + "\n");
    EXPECT_EQ(loadError(path),
              path + ": too large (1048577 bytes, at most 1048576)");
}

TEST(ErrorMap, OneNamePerCodeBothWays)
{
    for (Errc code :
         {Errc::NotFound, Errc::InvalidArgument, Errc::Busy, Errc::NotViable,
          Errc::NotSupported, Errc::Failed, Errc::TimedOut, Errc::AccessDenied,
          Errc::InUse, Errc::LimitsExceeded})
    {
        std::string name = busErrorName(code);
        if (code == Errc::AccessDenied)
        {
            EXPECT_EQ(name, "org.freedesktop.DBus.Error.AccessDenied");
        }
        else
        {
            EXPECT_EQ(name, "org.vfiod1.Error." + std::string(errcName(code)));
        }
        EXPECT_EQ(errcFromBusName(name), code);
    }
    EXPECT_EQ(errcFromBusName("org.freedesktop.DBus.Error.Failed"),
              std::nullopt);
}

TEST(ErrorMap, GuardedTranslatesEveryException)
{
    auto nameOf = [](const std::function<void()>& body) {
        try
        {
            guarded("Test", body);
        }
        catch (const sdbus::Error& e)
        {
            return e.getName();
        }
        return std::string();
    };
    EXPECT_EQ(nameOf([] { fail(Errc::Busy, "busy"); }),
              "org.vfiod1.Error.Busy");
    EXPECT_EQ(nameOf([] { throw std::runtime_error("bug"); }),
              "org.vfiod1.Error.Failed");
    EXPECT_EQ(nameOf([] { throw 42; }), "org.vfiod1.Error.Failed");
    EXPECT_EQ(nameOf([] { throw sdbus::Error("x.y.Z", "as is"); }), "x.y.Z");
}

Options parse(std::vector<std::string> args)
{
    args.insert(args.begin(), "vfiod");
    std::vector<char*> argv;
    for (std::string& arg : args)
    {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    return parseOptions(static_cast<int>(args.size()), argv.data());
}

TEST(Options, Parses)
{
    Options options = parse({"--sim", "host.toml", "--sim-state", "/tmp/s",
                             "--bus-address", "unix:path=/x", "--config",
                             "c.toml", "--sysfs-root", "/r/sys", "-v"});
    EXPECT_EQ(options.simFile, "host.toml");
    EXPECT_EQ(options.simStateDir, "/tmp/s");
    EXPECT_EQ(options.busAddress, "unix:path=/x");
    EXPECT_EQ(options.configFile, "c.toml");
    EXPECT_EQ(options.sysfsRoot, "/r/sys");
    EXPECT_TRUE(options.verbose);
    EXPECT_FALSE(parse({}).configFile.has_value());
    EXPECT_TRUE(parse({"--version"}).version);
    EXPECT_TRUE(parse({"-h"}).help);
}

TEST(Options, RefusesBadUsage)
{
    EXPECT_THROW(parse({"--bogus"}), Error);
    EXPECT_THROW(parse({"--sim"}), Error);
    EXPECT_THROW(parse({"extra"}), Error);
    EXPECT_THROW(parse({"--sim-state", "/tmp"}), Error);
    EXPECT_THROW(parse({"--config", ""}), Error);
}

TEST(MethodOptions, StrictStrings)
{
    MethodOptions options{{"driver", sdbus::Variant(std::string("vfio-pci"))}};
    EXPECT_EQ(stringOption("Bind", options, "driver"), "vfio-pci");
    EXPECT_EQ(stringOption("Bind", {}, "driver"), "");
    EXPECT_THROW(stringOption("Reset", options, "method"), Error);
    EXPECT_THROW(
        stringOption("Bind", {{"driver", sdbus::Variant(1)}}, "driver"), Error);
    EXPECT_THROW(requireNoOptions("Unbind", options), Error);
    requireNoOptions("Unbind", {});
}

TEST(MethodOptions, ForceIsABooleanTakenOutOfTheRest)
{
    EXPECT_FALSE(forceOption("Unbind", {}));
    EXPECT_TRUE(forceOption("Unbind", {{"force", sdbus::Variant(true)}}));
    EXPECT_FALSE(forceOption("Unbind", {{"force", sdbus::Variant(false)}}));
    Error notBool = [] {
        try
        {
            forceOption("Unbind",
                        {{"force", sdbus::Variant(std::string("1"))}});
        }
        catch (const Error& e)
        {
            return e;
        }
        return Error(Errc::Failed, "accepted");
    }();
    EXPECT_EQ(notBool.code(), Errc::InvalidArgument);
    EXPECT_NE(std::string(notBool.what()).find("boolean"), std::string::npos)
        << notBool.what();
    EXPECT_THROW(forceOption("Unbind", {{"forse", sdbus::Variant(true)}}),
                 Error);

    MethodOptions assign{{"force", sdbus::Variant(true)},
                         {"driver", sdbus::Variant(std::string("vfio-pci"))}};
    EXPECT_TRUE(takeBoolOption("Assign", assign, "force"));
    EXPECT_EQ(
        readStringOptions("Assign", assign, {"driver", "force"}).at("driver"),
        "vfio-pci");
}

TEST(Authz, OwnerUid)
{
    EXPECT_EQ(ownerUid(":1.42 uid=1000"), 1000u);
    EXPECT_EQ(ownerUid(":1.42 uid=0"), 0u);
    EXPECT_EQ(ownerUid(":1.42"), std::nullopt);
    EXPECT_EQ(ownerUid(":1.42 uid=10x"), std::nullopt);
    Caller caller{":1.7", 1000};
    EXPECT_EQ(caller.owner(), ":1.7 uid=1000");
    EXPECT_EQ(actionId(Action::Manage), "org.vfiod1.manage");
}

/** The methods an introspection XML of dbus/ declares. */
std::vector<std::string> methodsOf(const std::string& xml)
{
    const char* root = std::getenv("VFIOD_SOURCE_ROOT");
    std::ifstream in(std::string(root != nullptr ? root : ".") + "/dbus/" +
                     xml);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> methods;
    std::regex method(R"re(<method\s+name="([A-Za-z]+)")re");
    std::string all = text.str();
    for (std::sregex_iterator it(all.begin(), all.end(), method), end;
         it != end; ++it)
    {
        methods.push_back((*it)[1]);
    }
    return methods;
}

TEST(AuthzTable, EveryMethodOfTheApiIsDecided)
{
    std::vector<std::string> methods = methodsOf("org.vfiod1.Manager.xml");
    std::vector<std::string> device = methodsOf("org.vfiod1.Device.xml");
    ASSERT_GE(methods.size(), 5u);
    ASSERT_GE(device.size(), 11u);
    methods.insert(methods.end(), device.begin(), device.end());
    for (const std::string& method : methods)
    {
        EXPECT_NO_THROW(actionFor(method)) << method;
    }
}

TEST(AuthzTable, WhatChangesStateNeedsItsAction)
{
    EXPECT_EQ(actionFor("Bind"), Action::Bind);
    EXPECT_EQ(actionFor("Unbind"), Action::Bind);
    EXPECT_EQ(actionFor("Assign"), Action::Assign);
    EXPECT_EQ(actionFor("Reattach"), Action::Assign);
    EXPECT_EQ(actionFor("Release"), Action::Assign);
    EXPECT_EQ(actionFor("Reset"), Action::Reset);
    for (const char* method : {"SetMigrationState", "SaveState", "LoadState",
                               "Migrate", "CancelMigration"})
    {
        EXPECT_EQ(actionFor(method), Action::Migrate) << method;
    }
    EXPECT_EQ(actionFor("Reload"), Action::Manage);
    EXPECT_EQ(actionFor("GetDevice"), std::nullopt);
    EXPECT_EQ(actionFor("Explain"), std::nullopt);
}

TEST(AuthzTable, AMethodNobodyDecidedIsRefused)
{
    for (const char* method : {"Frobnicate", "", "bind", "Bind "})
    {
        try
        {
            actionFor(method);
            ADD_FAILURE() << "\"" << method << "\" was let through";
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::AccessDenied) << method;
        }
    }
}

TEST(Authz, RootAndAccessListsArePrivileged)
{
    AccessConfig access;
    Authorizer authorizer([&] { return access; });
    EXPECT_TRUE(authorizer.isPrivileged(0));
    EXPECT_FALSE(authorizer.isPrivileged(65534));
    access.users = {"nobody"};
    EXPECT_TRUE(authorizer.isPrivileged(65534));
    access.users = {};
    access.groups = {"nogroup"};
    EXPECT_TRUE(authorizer.isPrivileged(65534));
    access.groups = {"root"};
    EXPECT_FALSE(authorizer.isPrivileged(65534));
}

TEST(PropertyDiff, OnlyWhatChanged)
{
    DeviceInfo before;
    before.pci.driver = "e1000e";
    DeviceInfo after = before;
    EXPECT_TRUE(changedProperties(before, after).empty());
    after.pci.driver = "vfio-pci";
    after.state = DeviceState::Vfio;
    after.originalDriver = "e1000e";
    after.pci.vendorId = 0x1234; // identity: never announced
    EXPECT_EQ(changedProperties(before, after),
              (std::vector<std::string>{"Driver", "OriginalDriver", "State"}));
    // Unmanaged and "no driver before" both read "".
    DeviceInfo none = before;
    none.originalDriver = "";
    EXPECT_TRUE(changedProperties(before, none).empty());
}

WorkerContext::Connect noBus()
{
    return [] { return std::unique_ptr<sdbus::IConnection>(); };
}

TEST(WorkerPool, SameKeyInOrderOtherKeysInParallel)
{
    WorkerPool pool(4, 4, noBus());
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<int> order;
    bool release = false;

    // A blocked job on "a" must not stop "b".
    pool.submit("a", [&](WorkerContext&) {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return release; });
        order.push_back(1);
    });
    pool.submit("a", [&](WorkerContext&) {
        std::lock_guard lock(mutex);
        order.push_back(2);
        changed.notify_all();
    });
    std::atomic<bool> otherRan{false};
    pool.submit("b", [&](WorkerContext&) {
        std::lock_guard lock(mutex);
        otherRan = true;
        changed.notify_all();
    });
    {
        // No time bound: a "b" that never runs hangs the test until
        // meson's timeout.
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return otherRan.load(); });
        // In that order: "b" ran while "a" was still blocked.
        EXPECT_TRUE(order.empty());
        release = true;
        changed.notify_all();
        changed.wait(lock, [&] { return order.size() == 2; });
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(WorkerPool, GrowsWhenEveryThreadIsHeld)
{
    // One thread to start with, held by a job that waits for the test (a
    // stuck stream): another lane still runs, on a thread grown for it.
    WorkerPool pool(1, 2, noBus());
    std::promise<void> held;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    pool.submit("stuck", [&, released](WorkerContext&) {
        held.set_value();
        released.wait();
    });
    held.get_future().wait();
    std::promise<void> ran;
    pool.submit("other", [&](WorkerContext&) { ran.set_value(); });
    // No time bound: an "other" that never runs hangs the test until
    // meson's timeout.
    ran.get_future().wait();
    release.set_value();
}

TEST(CallLimits, PerCallerPerLaneAndDescriptors)
{
    CallLimitsConfig config;
    config.maxCallsPerCaller = 2;
    config.maxQueuedPerDevice = 1;
    CallLimits limits(config, 1);
    auto code = [](const std::function<void()>& call) -> std::optional<Errc> {
        try
        {
            call();
        }
        catch (const Error& e)
        {
            return e.code();
        }
        return std::nullopt;
    };
    CallLimits::Slot first = limits.enterCaller(":1.1", true, "SaveState");
    // One descriptor held in all: the next call with one is refused, also
    // for another caller; one without is not.
    EXPECT_EQ(code([&] { limits.enterCaller(":1.2", true, "LoadState"); }),
              Errc::LimitsExceeded);
    CallLimits::Slot second = limits.enterCaller(":1.1", false, "Bind");
    EXPECT_EQ(code([&] { limits.enterCaller(":1.1", false, "Bind"); }),
              Errc::LimitsExceeded);
    EXPECT_EQ(code([&] { limits.enterCaller(":1.2", false, "Bind"); }),
              std::nullopt);
    // Released with its slot.
    first.reset();
    CallLimits::Slot third = limits.enterCaller(":1.1", true, "SaveState");

    CallLimits::Slot queued = limits.enterLane("0000:03:00.0", false, "Bind");
    EXPECT_EQ(code([&] { limits.enterLane("0000:03:00.0", false, "Bind"); }),
              Errc::LimitsExceeded);
    // A privileged caller is never refused, and another lane has room.
    CallLimits::Slot root = limits.enterLane("0000:03:00.0", true, "Bind");
    CallLimits::Slot other = limits.enterLane("0000:04:00.0", false, "Bind");
    queued.reset();
    root.reset();
    EXPECT_EQ(code([&] { limits.enterLane("0000:03:00.0", false, "Bind"); }),
              std::nullopt);
}

TEST(WorkerPool, StopDropsQueuedJobs)
{
    using Flag = std::shared_ptr<std::atomic<bool>>;
    std::atomic<int> ran{0};
    Flag dropped = std::make_shared<std::atomic<bool>>(false);
    /// Sets its flag when a job holding it is destroyed without running.
    struct Sentinel
    {
        Flag flag;
        bool armed = true;
        Sentinel(Flag f) : flag(std::move(f)) {}
        Sentinel(Sentinel&& o) noexcept : flag(o.flag), armed(o.armed)
        {
            o.armed = false;
        }
        ~Sentinel()
        {
            if (armed)
            {
                *flag = true;
            }
        }
    };
    std::promise<void> started;
    std::promise<void> gate;
    std::shared_future<void> open = gate.get_future().share();
    {
        WorkerPool pool(1, 1, noBus());
        pool.submit("a", [&, open](WorkerContext&) {
            started.set_value();
            open.wait();
            ++ran;
        });
        pool.submit("a", [&, s = Sentinel(dropped)](WorkerContext&) mutable {
            s.armed = false;
            ++ran;
        });
        // The first job runs (out of its lane); the second is queued.
        started.get_future().wait();
        std::thread stopper([&] { pool.stop(); });
        // Once stop() has dropped the queue, a submit is dropped on the
        // spot (worker_pool.hpp): a probe destroyed before submit returns
        // is that event. Probes that came earlier queue up and are dropped
        // with the rest. Polled: stop() announces nothing.
        for (;;)
        {
            Flag probe = std::make_shared<std::atomic<bool>>(false);
            pool.submit("probe", [s = Sentinel(probe)](WorkerContext&) mutable {
                s.armed = false;
            });
            if (*probe)
            {
                break;
            }
            std::this_thread::sleep_for(1ms);
        }
        gate.set_value(); // the running job may finish now
        stopper.join();
    }
    EXPECT_EQ(ran, 1);
    EXPECT_TRUE(*dropped);
}

} // namespace
} // namespace vfiod::daemon
