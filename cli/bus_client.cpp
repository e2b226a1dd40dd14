#include "bus_client.hpp"

#include "vfiod1_device_proxy.h"
#include "vfiod1_manager_proxy.h"

#include "cli_error.hpp"
#include "signal_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sdbus-c++/ProxyInterfaces.h>
#include <sdbus-c++/StandardInterfaces.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace vfioctl
{

namespace
{

/**
 * The kernel's unbind waits for every user of the device to let go, and a
 * reset can take seconds per function: 25 s, sd-bus's default, is not
 * enough for Bind, Unbind, Assign or Reset.
 */
constexpr std::chrono::seconds longCallTimeout{120};

/**
 * Raises the connection's method-call timeout for one call. The generated
 * proxies only take a per-call timeout from an
 * org.freedesktop.DBus.Method.Timeout annotation, which the XML does not
 * carry; vfioctl is single-threaded, so changing the connection's default
 * around the call is safe. A per-call timeout, if added, still wins.
 */
class LongCall
{
  public:
    explicit LongCall(sdbus::IConnection& bus) :
        bus(bus), saved(bus.getMethodCallTimeout())
    {
        bus.setMethodCallTimeout(longCallTimeout);
    }

    ~LongCall()
    {
        bus.setMethodCallTimeout(saved);
    }

    LongCall(const LongCall&) = delete;
    LongCall& operator=(const LongCall&) = delete;

  private:
    sdbus::IConnection& bus;
    uint64_t saved;
};

bool addressLess(const DeviceEntry& a, const DeviceEntry& b)
{
    auto left = addressOfPath(a.path);
    auto right = addressOfPath(b.path);
    if (left && right)
    {
        return *left < *right;
    }
    if (left || right)
    {
        // Devices with a decodable path first, so the order stays strict.
        return left.has_value();
    }
    return a.path < b.path;
}

} // namespace

/**
 * The root object. Its proxy is never registered (no registerProxy()):
 * vfioctl's one-shot commands want no signal subscriptions, and leaving
 * them out saves the AddMatch round trips. `monitor` subscribes itself.
 */
class BusClient::ManagerProxy :
    public sdbus::ProxyInterfaces<org::vfiod1::Manager_proxy,
                                  sdbus::ObjectManager_proxy,
                                  sdbus::Properties_proxy>
{
  public:
    explicit ManagerProxy(sdbus::IConnection& bus) :
        ProxyInterfaces(bus, serviceName, rootPath)
    {}

  private:
    void onInterfacesAdded(const sdbus::ObjectPath&,
                           const std::map<std::string, PropertyMap>&) override
    {}

    void onInterfacesRemoved(const sdbus::ObjectPath&,
                             const std::vector<std::string>&) override
    {}

    void onPropertiesChanged(const std::string&, const PropertyMap&,
                             const std::vector<std::string>&) override
    {}
};

/** One device object; unregistered for the same reason as ManagerProxy. */
class BusClient::DeviceProxy :
    public sdbus::ProxyInterfaces<org::vfiod1::Device_proxy,
                                  sdbus::Properties_proxy>
{
  public:
    DeviceProxy(sdbus::IConnection& bus, const sdbus::ObjectPath& path) :
        ProxyInterfaces(bus, serviceName, path)
    {}

  private:
    void onPropertiesChanged(const std::string&, const PropertyMap&,
                             const std::vector<std::string>&) override
    {}
    void onMigrationProgress(const std::string&, const uint64_t&) override {}
};

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

/** The migration calls take as long as the state is big: no timeout. */
class UnboundedCall
{
  public:
    explicit UnboundedCall(sdbus::IConnection& bus) :
        bus(bus), saved(bus.getMethodCallTimeout())
    {
        bus.setMethodCallTimeout(UINT64_MAX);
    }
    ~UnboundedCall()
    {
        bus.setMethodCallTimeout(saved);
    }
    UnboundedCall(const UnboundedCall&) = delete;
    UnboundedCall& operator=(const UnboundedCall&) = delete;

  private:
    sdbus::IConnection& bus;
    uint64_t saved;
};

} // namespace

std::optional<vfiod::PciAddress> addressOfPath(const std::string& path)
{
    std::string_view element(path);
    element.remove_prefix(element.rfind('/') + 1);
    vfiod::PciAddress address;
    try
    {
        address = vfiod::PciAddress::fromObjectPathElement(element);
    }
    catch (const std::exception&)
    {
        return std::nullopt;
    }
    return address;
}

BusClient::BusClient(const std::optional<std::string>& busAddress) :
    address(busAddress)
{
    try
    {
        // sd_bus_open_user_with_address underneath: despite the name it
        // works for any bus daemon, it only sets the address and "bus
        // client" mode.
        bus = busAddress
                  ? sdbus::createSessionBusConnectionWithAddress(*busAddress)
                  : sdbus::createSystemBusConnection();
    }
    catch (const sdbus::Error& e)
    {
        std::string where = busAddress ? "the bus at " + *busAddress
                                       : std::string("the system bus");
        throw CliError(ExitCode::failed,
                       "cannot connect to " + where + ": " + e.getMessage());
    }
}

BusClient::~BusClient() = default;

sdbus::IConnection& BusClient::connection()
{
    return *bus;
}

BusClient::ManagerProxy& BusClient::manager()
{
    if (!managerProxy)
    {
        managerProxy = std::make_unique<ManagerProxy>(*bus);
    }
    return *managerProxy;
}

std::unique_ptr<BusClient::DeviceProxy>
    BusClient::device(const sdbus::ObjectPath& path)
{
    return std::make_unique<DeviceProxy>(*bus, path);
}

sdbus::ObjectPath BusClient::getDevice(const std::string& address)
{
    return manager().GetDevice(address);
}

std::vector<DeviceEntry> BusClient::listDevices()
{
    std::vector<DeviceEntry> devices;
    for (auto& [path, interfaces] : manager().GetManagedObjects())
    {
        auto found = interfaces.find(deviceInterface);
        if (found != interfaces.end())
        {
            devices.push_back({path, std::move(found->second)});
        }
    }
    std::sort(devices.begin(), devices.end(), addressLess);
    return devices;
}

PropertyMap BusClient::deviceProperties(const sdbus::ObjectPath& path)
{
    return device(path)->GetAll(deviceInterface);
}

PropertyMap BusClient::managerProperties()
{
    return manager().GetAll(managerInterface);
}

void BusClient::bind(const sdbus::ObjectPath& path,
                     const MethodOptions& options)
{
    LongCall timeout(*bus);
    device(path)->Bind(options);
}

void BusClient::unbind(const sdbus::ObjectPath& path)
{
    LongCall timeout(*bus);
    device(path)->Unbind({});
}

sdbus::UnixFd BusClient::assign(const sdbus::ObjectPath& path,
                                const MethodOptions& options)
{
    sdbus::UnixFd lease;
    {
        LongCall timeout(*bus);
        lease = device(path)->Assign(options);
    }
    // sdbus::UnixFd dup()s the fd out of the message without O_CLOEXEC.
    // The lease must not leak into commands vfioctl runs: a copy held by a
    // daemonized grandchild would keep the device assigned after vfioctl
    // has gone and its Release was expected to end the assignment.
    if (::fcntl(lease.get(), F_SETFD, FD_CLOEXEC) < 0)
    {
        throw CliError(ExitCode::failed,
                       std::string("cannot set close-on-exec on the lease: ") +
                           std::strerror(errno));
    }
    return lease;
}

sdbus::UnixFd BusClient::reattach(const sdbus::ObjectPath& path,
                                  const std::string& token)
{
    return device(path)->Reattach(token, {});
}

void BusClient::release(const sdbus::ObjectPath& path)
{
    device(path)->Release({});
}

void BusClient::reset(const sdbus::ObjectPath& path,
                      const MethodOptions& options)
{
    LongCall timeout(*bus);
    device(path)->Reset(options);
}

void BusClient::reload()
{
    manager().Reload();
}

PropertyMap BusClient::explain(const std::string& address)
{
    return manager().Explain(address);
}

std::vector<std::string>
    BusClient::setMigrationState(const sdbus::ObjectPath& path,
                                 const std::string& state)
{
    LongCall timeout(*bus);
    return device(path)->SetMigrationState(state, {});
}

void BusClient::saveState(const sdbus::ObjectPath& path, int fd)
{
    UnboundedCall timeout(*bus);
    device(path)->SaveState(sdbus::UnixFd(fd), {});
}

void BusClient::loadState(const sdbus::ObjectPath& path, int fd)
{
    UnboundedCall timeout(*bus);
    device(path)->LoadState(sdbus::UnixFd(fd), {});
}

void BusClient::migrate(const sdbus::ObjectPath& path,
                        const sdbus::ObjectPath& target)
{
    UnboundedCall timeout(*bus);
    device(path)->Migrate(target, {});
}

void BusClient::cancelMigration(const sdbus::ObjectPath& path)
{
    device(path)->CancelMigration({});
}

std::vector<PluginEntry> BusClient::plugins()
{
    using Row = sdbus::Struct<std::string, std::string, uint32_t, uint32_t>;
    std::vector<PluginEntry> list;
    for (const Row& row : manager().Plugins())
    {
        list.push_back(
            {row.get<0>(), row.get<1>(), row.get<2>(), row.get<3>()});
    }
    return list;
}

std::unique_ptr<BusClient::MigrationWatch>
    BusClient::watchMigration(const sdbus::ObjectPath& path,
                              ProgressHandler handler)
{
    return std::make_unique<Watch>(address, path, std::move(handler));
}

std::string BusClient::udevRules()
{
    return manager().UdevRules();
}

} // namespace vfioctl
