#include "test_env.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sdbus-c++/sdbus-c++.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace vfiod::test
{

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::string& logFile)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logFile.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);

    // A child must not inherit the test's blocked signals.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    std::vector<char*> args;
    for (const std::string& arg : argv)
    {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    int r =
        posix_spawnp(&child, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
    {
        throw std::runtime_error("cannot run " + argv[0] + ": " +
                                 std::strerror(r));
    }
}

ChildProcess::~ChildProcess()
{
    if (!status)
    {
        stop(SIGKILL);
    }
}

bool ChildProcess::running()
{
    if (!status)
    {
        int raw = 0;
        if (::waitpid(child, &raw, WNOHANG) == child)
        {
            status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        }
    }
    return !status;
}

int ChildProcess::wait()
{
    while (!status)
    {
        int raw = 0;
        pid_t r = ::waitpid(child, &raw, 0);
        if (r == child)
        {
            status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        }
        else if (r < 0 && errno != EINTR)
        {
            status = -1; // not ours to reap (never expected): unknown
        }
    }
    return *status;
}

int ChildProcess::stop(int signal)
{
    if (!status)
    {
        ::kill(child, signal);
    }
    return wait();
}

CommandResult runCommand(const std::vector<std::string>& argv)
{
    TempDir scratch;
    std::string log = scratch / "output";
    CommandResult result;
    ChildProcess process(argv, log);
    result.status = process.wait();
    result.output = readFile(log);
    return result;
}

std::vector<std::string> asNobody(std::vector<std::string> argv)
{
    std::vector<std::string> command{
        "setpriv", "--reuid=" + std::to_string(nobodyUid),
        "--regid=" + std::to_string(nobodyUid), "--clear-groups"};
    command.insert(command.end(), argv.begin(), argv.end());
    return command;
}

namespace
{

std::string userName(uid_t uid)
{
    passwd* entry = ::getpwuid(uid);
    return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

/** A private bus with the system bus's deny-by-default policy. */
std::string busConfig(const std::string& dir, const std::string& shipped,
                      const std::string& testPolicy)
{
    return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)" +
           dir + R"(/bus</listen>
  <auth>EXTERNAL</auth>
  <include>)" +
           requiredEnv("VFIOD_SOURCE_ROOT") +
           R"(/tests/files/system-bus-default-policy.conf</include>
  <include>)" +
           shipped + R"(</include>
  <include>)" +
           testPolicy + R"(</include>
</busconfig>
)";
}

std::string testPolicy()
{
    std::string me = userName(::getuid());
    std::string vfiodOwner =
        ::getuid() == 0 ? "" : "    <allow own=\"org.vfiod1\"/>\n";
    return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <!-- Test only: the mock polkit, and vfiod when not run as root. -->
  <policy user=")" +
           me + R"(">
    <allow own="org.freedesktop.PolicyKit1"/>
)" + vfiodOwner +
           R"(  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
</busconfig>
)";
}

} // namespace

VfiodBus::VfiodBus()
{
    std::string shipped =
        requiredEnv("VFIOD_SOURCE_ROOT") + "/dbus/org.vfiod1.conf";
    writeFile(temp / "test-policy.conf", testPolicy());
    writeFile(temp / "bus.conf",
              busConfig(temp.path(), shipped, temp / "test-policy.conf"));
    busAddress = "unix:path=" + (temp / "bus");
    dbusDaemon = std::make_unique<ChildProcess>(
        std::vector<std::string>{"dbus-daemon",
                                 "--config-file=" + (temp / "bus.conf"),
                                 "--nofork", "--nopidfile", "--nosyslog"},
        temp / "dbus-daemon.log");
    // Polled: the socket announces nothing. Ends when it connects or when
    // dbus-daemon exits.
    bool up = vfiod::test::waitFor(
        [&] {
            try
            {
                connect();
                return true;
            }
            catch (const sdbus::Error&)
            {
                return false;
            }
        },
        [&] { return !dbusDaemon->running(); });
    if (!up || !dbusDaemon->running())
    {
        throw std::runtime_error("dbus-daemon did not start: " +
                                 readFile(temp / "dbus-daemon.log"));
    }
}

VfiodBus::~VfiodBus()
{
    vfiod.reset();
    polkit.reset();
    if (dbusDaemon)
    {
        dbusDaemon->stop(SIGTERM);
    }
}

void VfiodBus::startPolkit(const std::string& rules)
{
    setPolkitRules(rules);
    polkit = std::make_unique<ChildProcess>(
        std::vector<std::string>{requiredEnv("VFIOD_MOCK_POLKIT"), "--address",
                                 busAddress, "--rules", temp / "polkit.rules",
                                 "--log", temp / "polkit.calls"},
        temp / "polkit.log");
    if (!waitForOwner("org.freedesktop.PolicyKit1", true,
                      [&] { return !polkit->running(); }))
    {
        throw std::runtime_error("mock polkit did not start: " +
                                 readFile(temp / "polkit.log"));
    }
}

void VfiodBus::setPolkitRules(const std::string& rules)
{
    writeFile(temp / "polkit.rules", rules);
}

void VfiodBus::stopPolkit()
{
    if (polkit)
    {
        polkit->stop(SIGTERM);
        polkit.reset();
        waitForOwner("org.freedesktop.PolicyKit1", false);
    }
}

std::string VfiodBus::polkitLog() const
{
    return readFile(temp / "polkit.calls");
}

void VfiodBus::startVfiod(const std::string& hostFile,
                          const std::string& config,
                          const std::vector<std::string>& env)
{
    std::string text = config;
    if (::getuid() != 0)
    {
        // Not root: the test's own calls are privileged through [access].
        text += "\n[access]\nusers = [\"" + userName(::getuid()) + "\"]\n";
    }
    writeFile(configPath(), text);
    // env(1) execs vfiod in its own place: the pid stays vfiod's.
    std::vector<std::string> argv;
    if (!env.empty())
    {
        argv.push_back("env");
        argv.insert(argv.end(), env.begin(), env.end());
    }
    argv.insert(argv.end(), {requiredEnv("VFIOD_BIN"), "--sim", hostFile,
                             "--sim-state", simState(), "--bus-address",
                             busAddress, "--config", configPath(), "-v"});
    vfiod = std::make_unique<ChildProcess>(argv, temp / "vfiod.log");
    if (!waitForOwner("org.vfiod1", true, [&] { return !vfiod->running(); }))
    {
        throw std::runtime_error("vfiod did not take org.vfiod1: " +
                                 vfiodLog());
    }
}

std::optional<int> VfiodBus::stopVfiod()
{
    if (!vfiod)
    {
        return std::nullopt;
    }
    return vfiod->stop(SIGTERM);
}

bool VfiodBus::waitFor(const std::function<bool()>& done)
{
    return vfiod::test::waitFor(
        done, [&] { return vfiod == nullptr || !vfiod->running(); });
}

std::string VfiodBus::vfiodLog() const
{
    return readFile(temp / "vfiod.log");
}

CommandResult VfiodBus::busctl(const std::vector<std::string>& args) const
{
    std::vector<std::string> command{"busctl", "--address=" + busAddress};
    command.insert(command.end(), args.begin(), args.end());
    return runCommand(command);
}

std::vector<std::string>
    VfiodBus::clientCommand(const std::vector<std::string>& args) const
{
    std::vector<std::string> command{requiredEnv("VFIOD_TEST_CLIENT"),
                                     busAddress};
    command.insert(command.end(), args.begin(), args.end());
    return command;
}

std::optional<CommandResult>
    VfiodBus::simTool(const std::vector<std::string>& args) const
{
    std::string tool = requiredEnv("VFIOD_BUILD_ROOT") + "/tools/vfiod-sim";
    if (::access(tool.c_str(), X_OK) != 0)
    {
        return std::nullopt;
    }
    std::vector<std::string> command{tool, "--state", simState()};
    command.insert(command.end(), args.begin(), args.end());
    return runCommand(command);
}

std::unique_ptr<sdbus::IConnection> VfiodBus::connect() const
{
    return sdbus::createSessionBusConnectionWithAddress(busAddress);
}

bool VfiodBus::nameHasOwner(const std::string& name) const
{
    auto connection = connect();
    auto driver = sdbus::createProxy(*connection, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus");
    bool owned = false;
    driver->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(name)
        .storeResultsTo(owned);
    return owned;
}

bool VfiodBus::waitForOwner(const std::string& name, bool owned,
                            const std::function<bool()>& stop) const
{
    auto watcher = connect();
    std::mutex mutex;
    std::condition_variable changed;
    bool seen = false;
    // In place before the look below, so a change in between is not missed.
    sdbus::Slot match = watcher->addMatch(
        "type='signal',sender='org.freedesktop.DBus',"
        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" +
            name + "'",
        [&](sdbus::Message& message) {
            std::string which, before, after;
            message >> which >> before >> after;
            std::lock_guard lock(mutex);
            if (after.empty() != owned)
            {
                seen = true;
                changed.notify_all();
            }
        });
    watcher->enterEventLoopAsync();
    bool already = nameHasOwner(name) == owned;
    bool result = false;
    {
        std::unique_lock lock(mutex);
        seen = seen || already;
        // Woken by the signal; the 100 ms only look at stop() again.
        while (!seen && !(stop && stop()))
        {
            changed.wait_for(lock, 100ms);
        }
        result = seen;
    }
    watcher->leaveEventLoop();
    return result;
}

} // namespace vfiod::test
