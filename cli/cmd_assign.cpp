#include "bus_client.hpp"
#include "child_process.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_report.hpp"
#include "output.hpp"
#include "signal_watch.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

/*
 * The lease and commands: `assign ADDR -- CMD` keeps the lease in vfioctl
 * and does not pass it to CMD (it is close-on-exec). vfioctl waits for CMD,
 * then releases. Handing the fd down instead would tie the assignment to
 * every process that inherits it, including daemons CMD leaves behind, so
 * it could outlive CMD with nobody visibly holding it. The price: if
 * vfioctl itself is killed, the device is released while CMD may still be
 * using it; vfioctl therefore forwards SIGTERM, SIGHUP, SIGINT and SIGQUIT
 * to CMD and stays until CMD has exited.
 */

namespace vfioctl
{

namespace
{

/** A hangup (or error) on the lease means vfiod ended the assignment. */
bool leaseEnded(const pollfd& fd)
{
    return (fd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/** How long vfioctl waits for a restarted vfiod (its default grace). */
constexpr auto reattachWindow = std::chrono::seconds(60);

/**
 * The lease token: the first line vfiod writes into the lease. "" when
 * there is none (an older vfiod), and vfioctl then cannot re-attach.
 */
std::string readLeaseToken(int leaseFd)
{
    std::string token;
    pollfd fd{leaseFd, POLLIN, 0};
    while (::poll(&fd, 1, 1000) > 0 && (fd.revents & POLLIN) != 0)
    {
        char c = 0;
        if (::recv(leaseFd, &c, 1, MSG_DONTWAIT) != 1 || c == '\n')
        {
            break;
        }
        token += c;
    }
    return token;
}

/**
 * After the lease hung up: if vfiod went away (crashed or restarted)
 * rather than ended the assignment, waits for it to come back and takes
 * the assignment over with the token.
 * @return the new lease, or std::nullopt when the assignment is over.
 */
std::optional<sdbus::UnixFd> reattach(BusClient& client,
                                      const sdbus::ObjectPath& path,
                                      const std::string& address,
                                      const std::string& token)
{
    if (token.empty())
    {
        return std::nullopt;
    }
    auto deadline = std::chrono::steady_clock::now() + reattachWindow;
    bool announced = false;
    while (std::chrono::steady_clock::now() < deadline)
    {
        try
        {
            sdbus::UnixFd lease = client.reattach(path, token);
            std::cerr << "vfioctl: re-attached to the assignment of " << address
                      << std::endl;
            return lease;
        }
        catch (const sdbus::Error& e)
        {
            const std::string& name = e.getName();
            bool vfiodAway =
                name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
                name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
                name == "org.freedesktop.DBus.Error.NoReply" ||
                name == "org.freedesktop.DBus.Error.UnknownObject";
            if (!vfiodAway)
            {
                return std::nullopt; // ended on purpose, or not ours
            }
        }
        if (!announced)
        {
            std::cerr << "vfioctl: vfiod went away; waiting to re-attach to "
                      << address << std::endl;
            announced = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return std::nullopt;
}

std::string displayAddress(const sdbus::ObjectPath& path,
                           const std::string& given)
{
    auto address = addressOfPath(path);
    return address ? address->str() : given;
}

/**
 * Ends the assignment explicitly rather than only closing the lease, so
 * that when vfioctl exits the device is already released (closing the fd
 * alone is noticed by vfiod asynchronously). The lease is closed by the
 * caller afterwards either way, which also covers a failed Release.
 *
 * Only our own assignment is released: if vfiod ended it meanwhile and
 * somebody else assigned the device, a Release from root would end theirs.
 */
void releaseOurs(BusClient& client, const sdbus::ObjectPath& path,
                 const std::string& address)
{
    try
    {
        // Owner is "<bus name> uid=<uid>".
        std::string owner =
            stringProperty(client.deviceProperties(path), "Owner");
        if (owner.substr(0, owner.find(' ')) !=
            client.connection().getUniqueName())
        {
            return;
        }
        client.release(path);
    }
    catch (const sdbus::Error& e)
    {
        std::cerr << "vfioctl: releasing " << address << ": " << e.getMessage()
                  << ", closing the lease instead" << std::endl;
    }
}

ExitCode holdUntilSignalled(const GlobalOptions& options, BusClient& client,
                            const sdbus::ObjectPath& path,
                            const std::string& address, sdbus::UnixFd& lease,
                            const std::string& token)
{
    SignalWatch signals({SIGINT, SIGTERM, SIGHUP});
    reportDevice(options, client, path, "assigned");
    if (!options.json)
    {
        std::cout << "holding the lease on " << address
                  << "; interrupt (Ctrl-C) or SIGTERM releases it" << std::endl;
    }

    // events = 0: only hangup and error are of interest on the lease.
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {lease.get(), 0, 0}};
    for (;;)
    {
        if (::poll(fds, 2, -1) < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throw CliError(ExitCode::failed,
                           std::string("poll: ") + std::strerror(errno));
        }
        if (leaseEnded(fds[1]))
        {
            std::optional<sdbus::UnixFd> again =
                reattach(client, path, address, token);
            if (!again)
            {
                throw CliError(ExitCode::failed,
                               "vfiod ended the assignment of " + address);
            }
            lease = std::move(*again);
            fds[1].fd = lease.get();
            continue;
        }
        signalfd_siginfo info;
        if ((fds[0].revents & POLLIN) && signals.read(info))
        {
            break;
        }
    }
    releaseOurs(client, path, address);
    if (!options.json)
    {
        std::cout << address << ": released" << std::endl;
    }
    return ExitCode::ok;
}

/** Passes on signals sent by a process; the tty already signalled CMD. */
void forwardSignal(const signalfd_siginfo& info, pid_t child)
{
    bool fromTerminal = info.ssi_code == SI_KERNEL;
    if (!fromTerminal && static_cast<pid_t>(info.ssi_pid) != child)
    {
        ::kill(child, static_cast<int>(info.ssi_signo));
    }
}

int runWhileHolding(BusClient& client, const sdbus::ObjectPath& path,
                    const std::string& address, sdbus::UnixFd& lease,
                    const std::string& token,
                    const std::vector<std::string>& command)
{
    SignalWatch signals({SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT});
    pid_t child = spawnCommand(command, signals.previousMask());

    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {lease.get(), 0, 0}};
    int waitStatus = 0;
    bool leaseAlive = true;
    for (;;)
    {
        if (::poll(fds, 2, -1) < 0 && errno != EINTR)
        {
            throw CliError(ExitCode::failed,
                           std::string("poll: ") + std::strerror(errno));
        }
        if (leaseEnded(fds[1]))
        {
            std::optional<sdbus::UnixFd> again =
                reattach(client, path, address, token);
            if (again)
            {
                lease = std::move(*again);
                fds[1].fd = lease.get();
                continue;
            }
            // CMD keeps running: it decides what losing the device means.
            std::cerr << "vfioctl: vfiod ended the assignment of " << address
                      << std::endl;
            fds[1].fd = -1;
            leaseAlive = false;
        }
        signalfd_siginfo info;
        while (signals.read(info))
        {
            if (info.ssi_signo != SIGCHLD)
            {
                forwardSignal(info, child);
            }
        }
        if (::waitpid(child, &waitStatus, WNOHANG) == child)
        {
            break;
        }
    }
    if (leaseAlive)
    {
        releaseOurs(client, path, address);
    }
    return shellStatus(waitStatus);
}

} // namespace

int runAssign(const GlobalOptions& options, const std::string& address,
              const std::optional<std::string>& driver,
              const std::vector<std::string>& command)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    MethodOptions methodOptions = forceOptions(options.force);
    if (driver)
    {
        methodOptions["driver"] = sdbus::Variant(*driver);
    }
    sdbus::UnixFd lease = client.assign(path, methodOptions);
    std::string token = readLeaseToken(lease.get());
    std::string shown = displayAddress(path, address);
    if (command.empty())
    {
        return toInt(
            holdUntilSignalled(options, client, path, shown, lease, token));
    }
    return runWhileHolding(client, path, shown, lease, token, command);
}

ExitCode runRelease(const GlobalOptions& options, const std::string& address)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    client.release(path);
    reportDevice(options, client, path, "released");
    return ExitCode::ok;
}

} // namespace vfioctl
