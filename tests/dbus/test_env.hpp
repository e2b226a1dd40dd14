#pragma once

#include "test_support.hpp"

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sdbus
{
class IConnection;
}

namespace vfiod::test
{

using namespace std::chrono_literals;

/** @brief A spawned process; stdout and stderr go to a log file. */
class ChildProcess
{
  public:
    ChildProcess(const std::vector<std::string>& argv,
                 const std::string& logFile);
    /** @brief SIGKILLs and reaps the process if it still runs. */
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const noexcept
    {
        return child;
    }

    /** @brief Whether it has not exited yet (never blocks). */
    bool running();

    /**
     * @brief Waits for the exit, however long it takes (a hang is ended by
     * meson's timeout).
     * @return the exit code, 128 + signal, or -1 when it cannot be
     *         reaped.
     */
    int wait();

    /** @brief Sends @p signal and waits for the exit (see wait()). */
    int stop(int signal);

  private:
    pid_t child = -1;
    std::optional<int> status;
};

struct CommandResult
{
    int status = -1;    ///< exit code, or 128 + signal
    std::string output; ///< stdout and stderr
};

/** @brief Runs a command to completion and captures its output. */
CommandResult runCommand(const std::vector<std::string>& argv);

/** @brief The uid tests use as an unprivileged caller: nobody. */
constexpr uid_t nobodyUid = 65534;

/** @brief Prefix that runs a command as nobody (setpriv). */
std::vector<std::string> asNobody(std::vector<std::string> argv);

/**
 * @brief A private system-like bus with vfiod on it.
 *
 * dbus-daemon runs with a deny-by-default policy like system.conf that
 * includes the shipped dbus/org.vfiod1.conf; a test policy only adds what
 * the test itself needs (owning the polkit name, and org.vfiod1 when the
 * test does not run as root: as root the shipped policy must suffice).
 * The directory is world-readable so that nobody can reach the socket.
 */
class VfiodBus
{
  public:
    VfiodBus();
    ~VfiodBus();

    /** @brief The bus address, "unix:path=...". */
    const std::string& address() const noexcept
    {
        return busAddress;
    }
    const TempDir& dir() const noexcept
    {
        return temp;
    }
    std::string simState() const
    {
        return temp / "sim";
    }
    std::string configPath() const
    {
        return temp / "vfiod.toml";
    }

    /** @brief Starts the mock polkit with @p rules (see mock_polkit.cpp). */
    void startPolkit(const std::string& rules);
    void setPolkitRules(const std::string& rules);
    void stopPolkit();
    /** @brief What the mock polkit was asked, one line per call. */
    std::string polkitLog() const;

    /**
     * @brief Writes vfiod.toml (@p config, plus [access] for the test's
     * own user when it is not root) and starts vfiod on @p hostFile;
     * waits until it owns org.vfiod1 (throws if it exits first).
     * @p env: NAME=VALUE settings for vfiod alone (the crash tests' kill
     * point, sim_kill_point.hpp), not for this process.
     */
    void startVfiod(const std::string& hostFile, const std::string& config = "",
                    const std::vector<std::string>& env = {});

    /** @brief SIGTERM; the exit status (nullopt: no vfiod was started). */
    std::optional<int> stopVfiod();

    /**
     * @brief Polls @p done until it holds (true) or vfiod exits first
     * (false): for states vfiod announces no signal for. No time bound.
     */
    bool waitFor(const std::function<bool()>& done);

    ChildProcess* vfiodProcess()
    {
        return vfiod.get();
    }

    std::string vfiodLog() const;

    /** @brief Runs busctl --address=... ARGS. */
    CommandResult busctl(const std::vector<std::string>& args) const;

    /** @brief Runs the test client: ADDRESS ARGS. */
    std::vector<std::string>
        clientCommand(const std::vector<std::string>& args) const;

    /** @brief Runs vfiod-sim --state SIMSTATE ARGS; nullopt if not built. */
    std::optional<CommandResult>
        simTool(const std::vector<std::string>& args) const;

    /** @brief A new client connection of this process. */
    std::unique_ptr<sdbus::IConnection> connect() const;

    bool nameHasOwner(const std::string& name) const;

    /**
     * @brief Waits until @p name has an owner (@p owned) or none, woken by
     * the bus's NameOwnerChanged, or until @p stop holds (false then;
     * looked at every 100 ms). No time bound.
     */
    bool waitForOwner(const std::string& name, bool owned,
                      const std::function<bool()>& stop = nullptr) const;

  private:
    TempDir temp;
    std::string busAddress;
    std::unique_ptr<ChildProcess> dbusDaemon;
    std::unique_ptr<ChildProcess> polkit;
    std::unique_ptr<ChildProcess> vfiod;
};

} // namespace vfiod::test
