#include "device_adaptor.hpp"

#include "error_map.hpp"
#include "operations.hpp"
#include "requests.hpp"

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
                             const DeviceInfo& info, DeviceManager& manager,
                             Requests& requests) :
    AdaptorInterfaces(connection, pathOf(info.pci.address)),
    address(info.pci.address), manager(manager), requests(requests),
    announced(info)
{
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

void DeviceAdaptor::update(const DeviceInfo& now)
{
    auto names = changedProperties(announced, now);
    announced = now;
    if (!names.empty())
    {
        emitPropertiesChangedSignal(org::vfiod1::Device_adaptor::INTERFACE_NAME,
                                    names);
    }
}

DeviceInfo DeviceAdaptor::current()
{
    auto info = manager.info(address);
    return info ? *info : announced;
}

DeviceRequest DeviceAdaptor::request(std::string_view method)
{
    const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
    return DeviceRequest{message->getSender(), address,
                         std::string(method) + " " + address.str()};
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
        requireNoOptions("Unbind", options);
        requests.unbind(request("Unbind"), std::move(result));
    });
}

void DeviceAdaptor::Assign(sdbus::Result<sdbus::UnixFd>&& result,
                           MethodOptions options)
{
    guarded("Assign", [&] {
        std::string driver = stringOption("Assign", options, "driver");
        requests.assign(request("Assign"), std::move(driver),
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
        std::string method = stringOption("Reset", options, "method");
        requests.reset(request("Reset"), std::move(method), std::move(result));
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
    return guarded("Driver", [&] { return current().pci.driver; });
}

std::string DeviceAdaptor::OriginalDriver()
{
    return guarded("OriginalDriver",
                   [&] { return originalDriverOf(current()); });
}

int32_t DeviceAdaptor::IommuGroup()
{
    return guarded("IommuGroup", [&] { return current().pci.iommuGroup; });
}

std::string DeviceAdaptor::State()
{
    return guarded(
        "State", [&] { return std::string(deviceStateName(current().state)); });
}

std::string DeviceAdaptor::Owner()
{
    return guarded("Owner", [&] { return current().owner; });
}

std::string DeviceAdaptor::Plugin()
{
    return guarded("Plugin", [&] { return current().plugin; });
}

std::string DeviceAdaptor::LastError()
{
    return guarded("LastError", [&] { return current().lastError; });
}

std::vector<std::string> DeviceAdaptor::ResetMethods()
{
    return guarded("ResetMethods", [&] { return current().pci.resetMethods; });
}

std::vector<std::string> DeviceAdaptor::MigrationFlags()
{
    // Migration is not implemented yet: no device is migratable.
    return {};
}

std::string DeviceAdaptor::MigrationState()
{
    return {};
}

} // namespace vfiod::daemon
