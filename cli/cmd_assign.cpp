#include "bus_client.hpp"
#include "child_process.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_report.hpp"
#include "output.hpp"
#include "signal_watch.hpp"

#include <poll.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <iostream>

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
                            const std::string& address, int leaseFd)
{
    SignalWatch signals({SIGINT, SIGTERM, SIGHUP});
    reportDevice(options, client, path, "assigned");
    if (!options.json)
    {
        std::cout << "holding the lease on " << address
                  << "; interrupt (Ctrl-C) or SIGTERM releases it" << std::endl;
    }

    // events = 0: only hangup and error are of interest on the lease.
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {leaseFd, 0, 0}};
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
            throw CliError(ExitCode::failed,
                           "vfiod ended the assignment of " + address);
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
                    const std::string& address, int leaseFd,
                    const std::vector<std::string>& command)
{
    SignalWatch signals({SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT});
    pid_t child = spawnCommand(command, signals.previousMask());

    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {leaseFd, 0, 0}};
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
    MethodOptions methodOptions;
    if (driver)
    {
        methodOptions["driver"] = sdbus::Variant(*driver);
    }
    sdbus::UnixFd lease = client.assign(path, methodOptions);
    std::string shown = displayAddress(path, address);
    if (command.empty())
    {
        return toInt(
            holdUntilSignalled(options, client, path, shown, lease.get()));
    }
    return runWhileHolding(client, path, shown, lease.get(), command);
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
