#pragma once

#include "method_options.hpp"
#include "service/device_manager.hpp"
#include "service/plugin_devices.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <vfiod1_device_adaptor.h>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace vfiod::daemon
{

class Requests;
struct DeviceRequest;

/**
 * @brief org.vfiod1.Device of one PCI function, at
 * /org/vfiod1/devices/pci_DDDD_BB_DD_F.
 *
 * Property reads return DeviceManager::info() as it is now, which never
 * waits for an operation. Methods validate their options here, on the bus
 * thread, and queue the call (Requests); the reply comes from a worker.
 * Main loop thread only.
 */
class DeviceAdaptor final :
    public sdbus::AdaptorInterfaces<org::vfiod1::Device_adaptor,
                                    sdbus::Properties_adaptor,
                                    sdbus::ManagedObject_adaptor>
{
  public:
    /**
     * @brief Exports the object; announce() then tells ObjectManager
     * clients about it.
     */
    DeviceAdaptor(sdbus::IConnection& connection, const DeviceInfo& info,
                  const PluginStatus& status, DeviceManager& manager,
                  Requests& requests);
    ~DeviceAdaptor();

    DeviceAdaptor(const DeviceAdaptor&) = delete;
    DeviceAdaptor& operator=(const DeviceAdaptor&) = delete;

    /** @brief The object path of a device. */
    static std::string pathOf(const PciAddress& address);

    /** @brief InterfacesAdded: the object is complete. */
    void announce();

    /** @brief InterfacesRemoved: call just before destroying it. */
    void withdraw();

    /**
     * @brief Emits PropertiesChanged for the properties that differ
     * between the last state announced and @p now.
     */
    void update(const DeviceInfo& now);

    /** @brief update() for the plugin and migration properties. */
    void update(const PluginStatus& now);

    /** @brief The MigrationProgress signal. */
    void progress(const std::string& phase, uint64_t bytes);

  private:
    void Bind(sdbus::Result<>&& result, MethodOptions options) override;
    void Unbind(sdbus::Result<>&& result, MethodOptions options) override;
    void Assign(sdbus::Result<sdbus::UnixFd>&& result,
                MethodOptions options) override;
    void Reattach(sdbus::Result<sdbus::UnixFd>&& result, std::string token,
                  MethodOptions options) override;
    void Release(sdbus::Result<>&& result, MethodOptions options) override;
    void Reset(sdbus::Result<>&& result, MethodOptions options) override;
    void SetMigrationState(sdbus::Result<std::vector<std::string>>&& result,
                           std::string state, MethodOptions options) override;
    void SaveState(sdbus::Result<>&& result, sdbus::UnixFd sink,
                   MethodOptions options) override;
    void LoadState(sdbus::Result<>&& result, sdbus::UnixFd source,
                   MethodOptions options) override;
    void Migrate(sdbus::Result<>&& result, sdbus::ObjectPath target,
                 MethodOptions options) override;
    void CancelMigration(sdbus::Result<>&& result,
                         MethodOptions options) override;

    std::string Address() override;
    uint16_t VendorId() override;
    uint16_t DeviceId() override;
    uint16_t SubsystemVendorId() override;
    uint16_t SubsystemDeviceId() override;
    uint32_t Class() override;
    std::string Driver() override;
    std::string OriginalDriver() override;
    int32_t IommuGroup() override;
    std::string State() override;
    std::string Owner() override;
    std::vector<std::string> Holders() override;
    std::string Plugin() override;
    std::string LastError() override;
    std::vector<std::string> ResetMethods() override;
    std::vector<std::string> MigrationFlags() override;
    std::string MigrationState() override;

    /** One field of the device now (of the last state seen once gone). */
    template <typename Field>
    auto now(Field&& field)
    {
        std::optional<std::invoke_result_t<Field&, const DeviceInfo&>> value;
        if (!manager.peek(address,
                          [&](const DeviceInfo& info) { value = field(info); }))
        {
            return field(announced);
        }
        return std::move(*value);
    }
    DeviceRequest request(std::string_view method);

    PciAddress address;
    DeviceManager& manager;
    Requests& requests;
    DeviceInfo announced;         ///< what the bus was last told
    PluginStatus announcedStatus; ///< likewise, of the plugin
};

/**
 * @brief The names of the properties whose values differ between two
 * states of a device (identity properties never change, so they are not
 * compared).
 */
std::vector<std::string> changedProperties(const DeviceInfo& before,
                                           const DeviceInfo& after);

} // namespace vfiod::daemon
