#pragma once

#include "service/device_manager.hpp"
#include "service/plugin_devices.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

class DeviceAdaptor;
class Requests;

/**
 * @brief The device objects under /org/vfiod1/devices, kept in step with
 * DeviceManager. Main loop thread only: DeviceManager listeners post their
 * changes to the loop, which applies them here.
 *
 * An object is exported with its state, then announced (InterfacesAdded);
 * it is withdrawn (InterfacesRemoved) before it is destroyed.
 */
class ObjectTree
{
  public:
    ObjectTree(sdbus::IConnection& connection, DeviceManager& manager,
               PluginDevices& plugins, Requests& requests);
    ~ObjectTree();

    ObjectTree(const ObjectTree&) = delete;
    ObjectTree& operator=(const ObjectTree&) = delete;

    /** @brief Brings the object of change.address up to date. */
    void apply(const DeviceChange& change);

    /**
     * @brief Exports every device DeviceManager knows (start-up), without
     * InterfacesAdded: no client can match a name vfiod does not own yet,
     * and they read the tree with GetManagedObjects once it appears. With
     * 4,096 devices the signals were a fifth of the start-up (bench/).
     */
    void exportAll();

    /** @brief From now on, objects added or removed are announced. */
    void announceChanges() noexcept
    {
        announcing = true;
    }

    /** @brief Object paths of the exported devices, sorted by address. */
    std::vector<std::string> paths() const;

    bool contains(const PciAddress& address) const;

    /** @brief MigrationProgress on the device's object, if it has one. */
    void progress(const PciAddress& address, const std::string& phase,
                  uint64_t bytes);

    size_t size() const noexcept
    {
        return objects.size();
    }

    /** @brief Destroys every object without announcing it (shutdown). */
    void clear();

  private:
    void sync(const PciAddress& address);
    void add(const DeviceInfo& info);
    void remove(const PciAddress& address);

    sdbus::IConnection& connection;
    DeviceManager& manager;
    PluginDevices& plugins;
    Requests& requests;
    std::map<PciAddress, std::unique_ptr<DeviceAdaptor>> objects;
    bool announcing = false;
};

} // namespace vfiod::daemon
