#include "device_adaptor.hpp"

#include "error_map.hpp"
#include "operations.hpp"
#include "pci/vfio_holders.hpp"
#include "requests.hpp"

#include <fcntl.h>

#include <cerrno>

namespace vfiod::daemon
{

namespace
{

constexpr std::string_view devicesPath = "/org/vfiod1/devices/";

std::string originalDriverOf(const DeviceInfo& info)
{
    return info.originalDriver.value_or("");
}

} // namespace

std::vector<std::string> changedProperties(const DeviceInfo& before,
                                           const DeviceInfo& after)
{
    std::vector<std::string> names;
    auto compare = [&](const char* name, const auto& a, const auto& b) {
        if (a != b)
        {
            names.emplace_back(name);
        }
    };
    compare("Driver", before.pci.driver, after.pci.driver);
    compare("OriginalDriver", originalDriverOf(before),
            originalDriverOf(after));
    compare("IommuGroup", before.pci.iommuGroup, after.pci.iommuGroup);
    compare("State", before.state, after.state);
    compare("Owner", before.owner, after.owner);
    compare("Plugin", before.plugin, after.plugin);
    compare("LastError", before.lastError, after.lastError);
    compare("ResetMethods", before.pci.resetMethods, after.pci.resetMethods);
    return names;
}

DeviceAdaptor::DeviceAdaptor(sdbus::IConnection& connection,
                             const DeviceInfo& info, const PluginStatus& status,
                             DeviceManager& manager, Requests& requests) :
    AdaptorInterfaces(connection, pathOf(info.pci.address)),
    address(info.pci.address), manager(manager), requests(requests),
    announced(info), announcedStatus(status)
{
    announced.plugin = status.plugin;
    registerAdaptor();
}

DeviceAdaptor::~DeviceAdaptor()
{
    unregisterAdaptor();
}

std::string DeviceAdaptor::pathOf(const PciAddress& address)
{
    return std::string(devicesPath) + address.objectPathElement();
}

void DeviceAdaptor::announce()
{
    emitInterfacesAddedSignal();
}

void DeviceAdaptor::withdraw()
{
    emitInterfacesRemovedSignal();
}

void DeviceAdaptor::update(const DeviceInfo& fresh)
{
    // Plugin comes from PluginDevices, not from the manager.
    DeviceInfo now = fresh;
    now.plugin = announcedStatus.plugin;
    auto names = changedProperties(announced, now);
    announced = now;
    if (!names.empty())
    {
        emitPropertiesChangedSignal(org::vfiod1::Device_adaptor::INTERFACE_NAME,
                                    names);
    }
}

void DeviceAdaptor::update(const PluginStatus& now)
{
    std::vector<std::string> names;
    if (now.plugin != announcedStatus.plugin)
    {
        names.emplace_back("Plugin");
    }
    if (now.migrationFlags != announcedStatus.migrationFlags)
    {
        names.emplace_back("MigrationFlags");
    }
    if (now.migrationState != announcedStatus.migrationState)
    {
        names.emplace_back("MigrationState");
    }
    announcedStatus = now;
    announced.plugin = now.plugin;
    if (!names.empty())
    {
        emitPropertiesChangedSignal(org::vfiod1::Device_adaptor::INTERFACE_NAME,
                                    names);
    }
}

void DeviceAdaptor::progress(const std::string& phase, uint64_t bytes)
{
    emitMigrationProgress(phase, bytes);
}

DeviceRequest DeviceAdaptor::request(std::string_view method)
{
    const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
    DeviceRequest made;
    made.address = address;
    made.what = std::string(method) + " " + address.str();
    made.sender = message->getSender();
    made.method = std::string(method);
    return made;
}

void DeviceAdaptor::Bind(sdbus::Result<>&& result, MethodOptions options)
{
    guarded("Bind", [&] {
        requests.bind(request("Bind"), bindOptions(options), std::move(result));
    });
}

void DeviceAdaptor::Unbind(sdbus::Result<>&& result, MethodOptions options)
{
    guarded("Unbind", [&] {
        DeviceRequest unbind = request("Unbind");
        unbind.force = forceOption("Unbind", options);
        requests.unbind(std::move(unbind), std::move(result));
    });
}

void DeviceAdaptor::Assign(sdbus::Result<sdbus::UnixFd>&& result,
                           MethodOptions options)
{
    guarded("Assign", [&] {
        DeviceRequest assign = request("Assign");
        MethodOptions strings = options;
        assign.force = takeBoolOption("Assign", strings, "force");
        auto values = readStringOptions("Assign", strings, {"driver", "force"});
        requests.assign(std::move(assign), values["driver"], std::move(result));
    });
}

void DeviceAdaptor::Reattach(sdbus::Result<sdbus::UnixFd>&& result,
                             std::string token, MethodOptions options)
{
    guarded("Reattach", [&] {
        requireNoOptions("Reattach", options);
        requests.reattach(request("Reattach"), std::move(token),
                          std::move(result));
    });
}

void DeviceAdaptor::Release(sdbus::Result<>&& result, MethodOptions options)
{
    guarded("Release", [&] {
        requireNoOptions("Release", options);
        requests.release(request("Release"), std::move(result));
    });
}

void DeviceAdaptor::Reset(sdbus::Result<>&& result, MethodOptions options)
{
    guarded("Reset", [&] {
        DeviceRequest reset = request("Reset");
        MethodOptions strings = options;
        reset.force = takeBoolOption("Reset", strings, "force");
        auto values = readStringOptions("Reset", strings, {"method", "force"});
        requests.reset(std::move(reset), values["method"], std::move(result));
    });
}

namespace
{

/** @brief vfiod's own copy of a message's fd: the message closes its own. */
UniqueFd duplicate(const sdbus::UnixFd& fd, std::string_view method)
{
    int copy = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (copy < 0 && (errno == EMFILE || errno == ENFILE))
    {
        // The call is refused, the bus connection stays.
        fail(Errc::LimitsExceeded,
             std::string(method) +
                 ": vfiod has no file descriptor left; try again later");
    }
    if (copy < 0)
    {
        fail(Errc::InvalidArgument,
             std::string(method) + ": the file descriptor cannot be used");
    }
    return UniqueFd(copy);
}

} // namespace

void DeviceAdaptor::SetMigrationState(
    sdbus::Result<std::vector<std::string>>&& result, std::string state,
    MethodOptions options)
{
    guarded("SetMigrationState", [&] {
        requireNoOptions("SetMigrationState", options);
        requests.setMigrationState(request("SetMigrationState"),
                                   std::move(state), std::move(result));
    });
}

void DeviceAdaptor::SaveState(sdbus::Result<>&& result, sdbus::UnixFd sink,
                              MethodOptions options)
{
    guarded("SaveState", [&] {
        requireNoOptions("SaveState", options);
        DeviceRequest call = request("SaveState");
        // Counted before vfiod keeps a copy of the descriptor: a refused
        // call holds none once it is answered.
        requests.admit(call, true);
        UniqueFd fd = duplicate(sink, "SaveState");
        requests.saveState(std::move(call), std::move(fd), std::move(result));
    });
}

void DeviceAdaptor::LoadState(sdbus::Result<>&& result, sdbus::UnixFd source,
                              MethodOptions options)
{
    guarded("LoadState", [&] {
        requireNoOptions("LoadState", options);
        DeviceRequest call = request("LoadState");
        requests.admit(call, true);
        UniqueFd fd = duplicate(source, "LoadState");
        requests.loadState(std::move(call), std::move(fd), std::move(result));
    });
}

void DeviceAdaptor::Migrate(sdbus::Result<>&& result, sdbus::ObjectPath target,
                            MethodOptions options)
{
    guarded("Migrate", [&] {
        requireNoOptions("Migrate", options);
        std::optional<PciAddress> to;
        std::string_view path = target;
        if (path.starts_with(devicesPath))
        {
            PciAddress parsed;
            std::string element(path.substr(devicesPath.size()));
            for (const PciAddress& known : manager.addresses())
            {
                if (known.objectPathElement() == element)
                {
                    parsed = known;
                    to = parsed;
                    break;
                }
            }
        }
        if (!to)
        {
            fail(Errc::NotFound, "Migrate: " + std::string(target) +
                                     " is not a device of this host");
        }
        if (*to == address)
        {
            fail(Errc::InvalidArgument,
                 "Migrate: the target is the device itself");
        }
        requests.migrate(request("Migrate"), *to, std::move(result));
    });
}

void DeviceAdaptor::CancelMigration(sdbus::Result<>&& result,
                                    MethodOptions options)
{
    guarded("CancelMigration", [&] {
        requireNoOptions("CancelMigration", options);
        requests.cancelMigration(request("CancelMigration"), std::move(result));
    });
}

std::string DeviceAdaptor::Address()
{
    return address.str();
}

uint16_t DeviceAdaptor::VendorId()
{
    return announced.pci.vendorId;
}

uint16_t DeviceAdaptor::DeviceId()
{
    return announced.pci.deviceId;
}

uint16_t DeviceAdaptor::SubsystemVendorId()
{
    return announced.pci.subsystemVendorId;
}

uint16_t DeviceAdaptor::SubsystemDeviceId()
{
    return announced.pci.subsystemDeviceId;
}

uint32_t DeviceAdaptor::Class()
{
    return announced.pci.classCode;
}

std::string DeviceAdaptor::Driver()
{
    return guarded("Driver", [&] {
        return now([](const DeviceInfo& i) { return i.pci.driver; });
    });
}

std::string DeviceAdaptor::OriginalDriver()
{
    return guarded("OriginalDriver", [&] {
        return now([](const DeviceInfo& i) { return originalDriverOf(i); });
    });
}

int32_t DeviceAdaptor::IommuGroup()
{
    return guarded("IommuGroup", [&] {
        return now([](const DeviceInfo& i) { return i.pci.iommuGroup; });
    });
}

std::string DeviceAdaptor::State()
{
    return guarded("State", [&] {
        return now([](const DeviceInfo& i) {
            return std::string(deviceStateName(i.state));
        });
    });
}

std::string DeviceAdaptor::Owner()
{
    return guarded("Owner", [&] {
        return now([](const DeviceInfo& i) { return i.owner; });
    });
}

std::vector<std::string> DeviceAdaptor::Holders()
{
    return guarded("Holders",
                   [&] { return holderNames(manager.recentHolders(address)); });
}

std::string DeviceAdaptor::Plugin()
{
    return guarded("Plugin", [&] { return announcedStatus.plugin; });
}

std::string DeviceAdaptor::LastError()
{
    return guarded("LastError", [&] {
        return now([](const DeviceInfo& i) { return i.lastError; });
    });
}

std::vector<std::string> DeviceAdaptor::ResetMethods()
{
    return guarded("ResetMethods", [&] {
        return now([](const DeviceInfo& i) { return i.pci.resetMethods; });
    });
}

std::vector<std::string> DeviceAdaptor::MigrationFlags()
{
    return announcedStatus.migrationFlags;
}

std::string DeviceAdaptor::MigrationState()
{
    return announcedStatus.migrationState;
}

} // namespace vfiod::daemon
