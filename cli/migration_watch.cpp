#include "migration_watch.hpp"

#include "cli_error.hpp"
#include "signal_watch.hpp"

#include <poll.h>
#include <sdbus-c++/IProxy.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace vfioctl
{

namespace
{

/** @brief A connection of its own, for a thread of its own. */
std::unique_ptr<sdbus::IConnection>
    connectAgain(const std::optional<std::string>& address)
{
    try
    {
        return address ? sdbus::createSessionBusConnectionWithAddress(*address)
                       : sdbus::createSystemBusConnection();
    }
    catch (const sdbus::Error& e)
    {
        throw CliError(ExitCode::failed,
                       "cannot connect to the bus: " + e.getMessage());
    }
}

/**
 * The MigrationProgress signals of one device on a second connection with
 * its own event loop thread, and a thread that turns SIGINT and SIGTERM
 * into CancelMigration on a third: the first connection is blocked in the
 * migration call.
 */
class Watch final : public BusClient::MigrationWatch
{
  public:
    Watch(const std::optional<std::string>& address,
          const sdbus::ObjectPath& device, ProgressHandler handler) :
        signals({SIGINT, SIGTERM}),
        stop(::eventfd(0, EFD_CLOEXEC)), events(connectAgain(address)),
        calls(connectAgain(address)), device(device)
    {
        if (stop < 0)
        {
            throw CliError(ExitCode::failed,
                           std::string("eventfd: ") + std::strerror(errno));
        }
        progress = sdbus::createProxy(*events, serviceName, device);
        progress->uponSignal("MigrationProgress")
            .onInterface(deviceInterface)
            .call([handler = std::move(handler)](const std::string& phase,
                                                 uint64_t bytes) {
                handler(phase, bytes);
            });
        progress->finishRegistration();
        events->enterEventLoopAsync();
        canceller = std::thread([this] { waitForSignal(); });
    }

    ~Watch() override
    {
        uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(stop, &one, sizeof one);
        canceller.join();
        events->leaveEventLoop();
        progress.reset();
        ::close(stop);
    }

    bool interrupted() const override
    {
        return cancelled;
    }

  private:
    void waitForSignal()
    {
        pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {stop, POLLIN, 0}};
        while (::poll(fds, 2, -1) >= 0 || errno == EINTR)
        {
            if ((fds[1].revents & POLLIN) != 0)
            {
                return;
            }
            signalfd_siginfo info;
            if ((fds[0].revents & POLLIN) != 0 && signals.read(info))
            {
                cancel();
            }
        }
    }

    void cancel()
    {
        cancelled = true;
        try
        {
            auto proxy = sdbus::createProxy(*calls, serviceName, device);
            proxy->callMethod("CancelMigration")
                .onInterface(deviceInterface)
                .withArguments(MethodOptions{});
        }
        catch (const sdbus::Error&)
        {
            // Finished meanwhile: the call's own reply tells.
        }
    }

    SignalWatch signals; ///< first: the threads inherit the blocked mask
    int stop;
    std::unique_ptr<sdbus::IConnection> events;
    std::unique_ptr<sdbus::IConnection> calls;
    sdbus::ObjectPath device;
    std::unique_ptr<sdbus::IProxy> progress;
    std::atomic<bool> cancelled{false};
    std::thread canceller;
};

} // namespace

std::unique_ptr<BusClient::MigrationWatch>
    startMigrationWatch(const std::optional<std::string>& address,
                        const sdbus::ObjectPath& device,
                        ProgressHandler handler)
{
    return std::make_unique<Watch>(address, device, std::move(handler));
}

} // namespace vfioctl
