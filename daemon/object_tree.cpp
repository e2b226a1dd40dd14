#include "object_tree.hpp"

#include "device_adaptor.hpp"
#include "logging.hpp"
#include "service/plugin_devices.hpp"

namespace vfiod::daemon
{

ObjectTree::ObjectTree(sdbus::IConnection& connection, DeviceManager& manager,
                       PluginDevices& plugins, Requests& requests) :
    connection(connection),
    manager(manager), plugins(plugins), requests(requests)
{}

ObjectTree::~ObjectTree()
{
    clear();
}

void ObjectTree::apply(const DeviceChange& change)
{
    // The kind only says what happened first; the manager's state now is
    // what the bus must show (a device may have come and gone since).
    sync(change.address);
}

void ObjectTree::sync(const PciAddress& address)
{
    auto info = manager.info(address);
    auto it = objects.find(address);
    if (!info)
    {
        if (it != objects.end())
        {
            remove(address);
        }
        return;
    }
    if (it == objects.end())
    {
        add(*info);
        return;
    }
    it->second->update(*info);
    it->second->update(plugins.status(address));
}

void ObjectTree::exportAll()
{
    for (const PciAddress& address : manager.addresses())
    {
        sync(address);
    }
}

void ObjectTree::add(const DeviceInfo& info)
{
    auto object = std::make_unique<DeviceAdaptor>(
        connection, info, plugins.status(info.pci.address), manager, requests);
    if (announcing)
    {
        object->announce();
    }
    logDebug("exported " + DeviceAdaptor::pathOf(info.pci.address));
    objects.emplace(info.pci.address, std::move(object));
}

void ObjectTree::remove(const PciAddress& address)
{
    auto it = objects.find(address);
    try
    {
        it->second->withdraw();
    }
    catch (const std::exception& e)
    {
        logWarning("InterfacesRemoved for " + address.str() +
                   " failed: " + e.what() + ", ignoring");
    }
    objects.erase(it);
    logDebug("withdrew " + DeviceAdaptor::pathOf(address));
}

std::vector<std::string> ObjectTree::paths() const
{
    std::vector<std::string> result;
    result.reserve(objects.size());
    for (const auto& [address, object] : objects)
    {
        result.push_back(DeviceAdaptor::pathOf(address));
    }
    return result;
}

bool ObjectTree::contains(const PciAddress& address) const
{
    return objects.contains(address);
}

void ObjectTree::progress(const PciAddress& address, const std::string& phase,
                          uint64_t bytes)
{
    if (auto it = objects.find(address); it != objects.end())
    {
        it->second->progress(phase, bytes);
    }
}

void ObjectTree::clear()
{
    // At shutdown the name goes away with the objects; clients learn it
    // from NameOwnerChanged, so no InterfacesRemoved storm.
    objects.clear();
}

} // namespace vfiod::daemon
