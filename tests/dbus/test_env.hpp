#pragma once

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

/** @brief An environment variable the test needs; fails loudly if unset. */
std::string requiredEnv(const char* name);

void writeFile(const std::string& path, const std::string& text);
std::string readFile(const std::string& path);

/** @brief Polls @p done every 10 ms until it holds or @p timeout passes. */
bool waitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout);

/** @brief A fresh directory under /tmp, removed with its contents. */
class TempDir
{
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const noexcept
    {
        return dir;
    }
    std::string operator/(const std::string& name) const
    {
        return dir + "/" + name;
    }

  private:
    std::string dir;
};

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

    bool running();

    /**
     * @brief Waits for the exit; std::nullopt on timeout.
     * @return the exit code, or 128 + signal.
     */
    std::optional<int> wait(std::chrono::milliseconds timeout);

    /** @brief Sends @p signal and waits; SIGKILL if it does not exit. */
    std::optional<int> stop(int signal, std::chrono::milliseconds timeout);

  private:
    pid_t child = -1;
    std::optional<int> status;
};

struct CommandResult
{
    int status = -1;    ///< exit code, 128 + signal, or -1 on timeout
    std::string output; ///< stdout and stderr
};

/** @brief Runs a command to completion (bounded) and captures its output. */
CommandResult runCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = 10s);

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
     * waits (bounded) until it owns org.vfiod1.
     */
    void startVfiod(const std::string& hostFile,
                    const std::string& config = "");

    /** @brief SIGTERM; the exit status (nullopt: had to be killed). */
    std::optional<int> stopVfiod();

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

  private:
    TempDir temp;
    std::string busAddress;
    std::unique_ptr<ChildProcess> dbusDaemon;
    std::unique_ptr<ChildProcess> polkit;
    std::unique_ptr<ChildProcess> vfiod;
};

} // namespace vfiod::test
