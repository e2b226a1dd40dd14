#include "config.h"

#include "manager_adaptor.hpp"

#include "base/error.hpp"
#include "device_adaptor.hpp"
#include "error_map.hpp"
#include "object_tree.hpp"
#include "requests.hpp"
#include "service/plugin_devices.hpp"
#include "udev_rules_writer.hpp"

namespace vfiod::daemon
{

ManagerAdaptor::ManagerAdaptor(sdbus::IConnection& connection,
                               const ObjectTree& tree, Requests& requests,
                               const UdevRulesWriter& udevRules,
                               std::string backend,
                               const PluginDevices& plugins) :
    AdaptorInterfaces(connection, objectPath),
    tree(tree), requests(requests), udevRules(udevRules),
    backend(std::move(backend)), plugins(plugins)
{
    registerAdaptor();
}

ManagerAdaptor::~ManagerAdaptor()
{
    unregisterAdaptor();
}

sdbus::ObjectPath ManagerAdaptor::GetDevice(const std::string& address)
{
    return guarded("GetDevice", [&] {
        PciAddress parsed = PciAddress::parse(address);
        // The tree, not the manager: a path is only handed out once its
        // object is announced.
        if (!tree.contains(parsed))
        {
            fail(Errc::NotFound, "no PCI device " + parsed.str() +
                                     " (vfioctl list shows the devices)");
        }
        return sdbus::ObjectPath(DeviceAdaptor::pathOf(parsed));
    });
}

std::vector<sdbus::ObjectPath> ManagerAdaptor::ListDevices()
{
    return guarded("ListDevices", [&] {
        std::vector<sdbus::ObjectPath> paths;
        for (std::string& path : tree.paths())
        {
            paths.emplace_back(std::move(path));
        }
        return paths;
    });
}

void ManagerAdaptor::Reload(sdbus::Result<>&& result)
{
    guarded("Reload", [&] {
        const sdbus::Message* message =
            getObject().getCurrentlyProcessedMessage();
        requests.reload(message->getSender(), std::move(result));
    });
}

void ManagerAdaptor::Explain(
    sdbus::Result<std::map<std::string, sdbus::Variant>>&& result,
    std::string address)
{
    guarded("Explain", [&] {
        PciAddress parsed = PciAddress::parse(address);
        if (!tree.contains(parsed))
        {
            fail(Errc::NotFound, "no PCI device " + parsed.str() +
                                     " (vfioctl list shows the devices)");
        }
        const sdbus::Message* message =
            getObject().getCurrentlyProcessedMessage();
        requests.explain(message->getSender(), parsed, std::move(result));
    });
}

std::string ManagerAdaptor::UdevRules()
{
    return udevRules.text();
}

std::string ManagerAdaptor::Version()
{
    return VFIOD_VERSION;
}

std::string ManagerAdaptor::Backend()
{
    return backend;
}

std::vector<sdbus::Struct<std::string, std::string, uint32_t, uint32_t>>
    ManagerAdaptor::Plugins()
{
    return guarded("Plugins", [&] {
        std::vector<sdbus::Struct<std::string, std::string, uint32_t, uint32_t>>
            list;
        for (const PluginInfo& plugin : plugins.plugins())
        {
            list.emplace_back(plugin.name, plugin.path, plugin.abiMajor,
                              plugin.abiMinor);
        }
        return list;
    });
}

void ManagerAdaptor::quarantineChanged()
{
    emitPropertiesChangedSignal(org::vfiod1::Manager_adaptor::INTERFACE_NAME,
                                {"QuarantinedPlugins"});
}

std::vector<sdbus::Struct<std::string, std::string, std::string>>
    ManagerAdaptor::QuarantinedPlugins()
{
    return guarded("QuarantinedPlugins", [&] {
        std::vector<sdbus::Struct<std::string, std::string, std::string>> list;
        for (const QuarantineInfo& plugin : plugins.quarantined())
        {
            list.emplace_back(plugin.name, plugin.path, plugin.status);
        }
        return list;
    });
}

} // namespace vfiod::daemon
