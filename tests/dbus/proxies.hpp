#pragma once

#include <sdbus-c++/sdbus-c++.h>
#include <vfiod1_device_proxy.h>
#include <vfiod1_manager_proxy.h>

#include <string>

namespace vfiod::test
{

/** @brief org.vfiod1.Manager at /org/vfiod1, from the generated proxy. */
class ManagerProxy final :
    public sdbus::ProxyInterfaces<org::vfiod1::Manager_proxy>
{
  public:
    explicit ManagerProxy(sdbus::IConnection& connection) :
        ProxyInterfaces(connection, "org.vfiod1", "/org/vfiod1")
    {
        registerProxy();
    }
    ~ManagerProxy()
    {
        unregisterProxy();
    }
};

/** @brief org.vfiod1.Device of one object, from the generated proxy. */
class DeviceProxy final :
    public sdbus::ProxyInterfaces<org::vfiod1::Device_proxy>
{
  public:
    DeviceProxy(sdbus::IConnection& connection, std::string path) :
        ProxyInterfaces(connection, "org.vfiod1", std::move(path))
    {
        registerProxy();
    }
    ~DeviceProxy()
    {
        unregisterProxy();
    }

  private:
    /** Recorded by SignalRecorder where a test needs it. */
    void onMigrationProgress(const std::string&, const uint64_t&) override {}
};

} // namespace vfiod::test
