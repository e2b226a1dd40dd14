#include "bus_client.hpp"

#include "vfiod1_device_proxy.h"
#include "vfiod1_manager_proxy.h"

#include "cli_error.hpp"
#include "migration_watch.hpp"

#include <fcntl.h>
#include <sdbus-c++/ProxyInterfaces.h>
#include <sdbus-c++/StandardInterfaces.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

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

/** How long a slow call may wait for vfiod's reply. */
enum class Wait
{
    Long,      ///< longCallTimeout
    Unbounded, ///< the migration calls take as long as the state is big
};

/**
 * Raises the connection's method-call timeout while it lives. The generated
 * proxies only take a per-call timeout from an
 * org.freedesktop.DBus.Method.Timeout annotation, which the XML does not
 * carry; vfioctl is single-threaded, so changing the connection's default
 * around the call is safe. A per-call timeout, if added, still wins.
 */
class RaisedTimeout
{
  public:
    RaisedTimeout(sdbus::IConnection& bus, Wait wait) :
        bus(bus), saved(bus.getMethodCallTimeout())
    {
        bus.setMethodCallTimeout(
            wait == Wait::Long
                ? std::chrono::microseconds(longCallTimeout).count()
                : UINT64_MAX);
    }

    ~RaisedTimeout()
    {
        bus.setMethodCallTimeout(saved);
    }

    RaisedTimeout(const RaisedTimeout&) = delete;
    RaisedTimeout& operator=(const RaisedTimeout&) = delete;

  private:
    sdbus::IConnection& bus;
    uint64_t saved;
};

/** @brief Makes @p call, a slow one, allowing it @p wait. */
template <typename Call>
decltype(auto) slowCall(sdbus::IConnection& bus, Wait wait, Call&& call)
{
    RaisedTimeout raised(bus, wait);
    return std::forward<Call>(call)();
}

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
class BusClient::ManagerProxy final :
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
class BusClient::DeviceProxy final :
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
    slowCall(*bus, Wait::Long, [&] { device(path)->Bind(options); });
}

MethodOptions forceOptions(bool force)
{
    MethodOptions options;
    if (force)
    {
        options["force"] = sdbus::Variant(true);
    }
    return options;
}

void BusClient::unbind(const sdbus::ObjectPath& path,
                       const MethodOptions& options)
{
    slowCall(*bus, Wait::Long, [&] { device(path)->Unbind(options); });
}

sdbus::UnixFd BusClient::assign(const sdbus::ObjectPath& path,
                                const MethodOptions& options)
{
    sdbus::UnixFd lease = slowCall(
        *bus, Wait::Long, [&] { return device(path)->Assign(options); });
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
    slowCall(*bus, Wait::Long, [&] { device(path)->Reset(options); });
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
    return slowCall(*bus, Wait::Long,
                    [&] { return device(path)->SetMigrationState(state, {}); });
}

void BusClient::saveState(const sdbus::ObjectPath& path, int fd)
{
    slowCall(*bus, Wait::Unbounded,
             [&] { device(path)->SaveState(sdbus::UnixFd(fd), {}); });
}

void BusClient::loadState(const sdbus::ObjectPath& path, int fd)
{
    slowCall(*bus, Wait::Unbounded,
             [&] { device(path)->LoadState(sdbus::UnixFd(fd), {}); });
}

void BusClient::migrate(const sdbus::ObjectPath& path,
                        const sdbus::ObjectPath& target)
{
    slowCall(*bus, Wait::Unbounded, [&] { device(path)->Migrate(target, {}); });
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
            {row.get<0>(), row.get<1>(), row.get<2>(), row.get<3>(), ""});
    }
    for (const auto& row : manager().QuarantinedPlugins())
    {
        list.push_back({row.get<0>(), row.get<1>(), 0, 0, row.get<2>()});
    }
    return list;
}

std::unique_ptr<BusClient::MigrationWatch>
    BusClient::watchMigration(const sdbus::ObjectPath& path,
                              ProgressHandler handler)
{
    return startMigrationWatch(address, path, std::move(handler));
}

std::string BusClient::udevRules()
{
    return manager().UdevRules();
}

} // namespace vfioctl
