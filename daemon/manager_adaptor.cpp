#include "config.h"

#include "manager_adaptor.hpp"

#include "device_adaptor.hpp"
#include "error.hpp"
#include "error_map.hpp"
#include "object_tree.hpp"
#include "requests.hpp"

namespace vfiod::daemon
{

ManagerAdaptor::ManagerAdaptor(sdbus::IConnection& connection,
                               const ObjectTree& tree, Requests& requests,
                               std::string backend) :
    AdaptorInterfaces(connection, objectPath),
    tree(tree), requests(requests), backend(std::move(backend))
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

std::string ManagerAdaptor::Version()
{
    return VFIOD_VERSION;
}

std::string ManagerAdaptor::Backend()
{
    return backend;
}

} // namespace vfiod::daemon
