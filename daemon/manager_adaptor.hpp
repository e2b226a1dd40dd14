#pragma once

#include "service/plugin_devices.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <vfiod1_manager_adaptor.h>

#include <string>
#include <vector>

namespace vfiod::daemon
{

class ObjectTree;
class Requests;
class UdevRulesWriter;

/**
 * @brief The root object /org/vfiod1: org.vfiod1.Manager and the
 * ObjectManager of every device object. Main loop thread only.
 */
class ManagerAdaptor final :
    public sdbus::AdaptorInterfaces<org::vfiod1::Manager_adaptor,
                                    sdbus::Properties_adaptor,
                                    sdbus::ObjectManager_adaptor>
{
  public:
    static constexpr const char* objectPath = "/org/vfiod1";

    ManagerAdaptor(sdbus::IConnection& connection, const ObjectTree& tree,
                   Requests& requests, const UdevRulesWriter& udevRules,
                   std::string backend, const PluginDevices& plugins);
    ~ManagerAdaptor();

    ManagerAdaptor(const ManagerAdaptor&) = delete;
    ManagerAdaptor& operator=(const ManagerAdaptor&) = delete;

    /** @brief Emits PropertiesChanged for QuarantinedPlugins. */
    void quarantineChanged();

  private:
    sdbus::ObjectPath GetDevice(const std::string& address) override;
    std::vector<sdbus::ObjectPath> ListDevices() override;
    void Reload(sdbus::Result<>&& result) override;
    void Explain(sdbus::Result<std::map<std::string, sdbus::Variant>>&& result,
                 std::string address) override;
    std::string UdevRules() override;
    std::string Version() override;
    std::string Backend() override;
    std::vector<sdbus::Struct<std::string, std::string, uint32_t, uint32_t>>
        Plugins() override;
    std::vector<sdbus::Struct<std::string, std::string, std::string>>
        QuarantinedPlugins() override;

    const ObjectTree& tree;
    Requests& requests;
    const UdevRulesWriter& udevRules;
    std::string backend;
    const PluginDevices& plugins;
};

} // namespace vfiod::daemon
