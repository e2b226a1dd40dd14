#pragma once

#include "base/pci_address.hpp"

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/Types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vfioctl
{

/** @brief A D-Bus object's properties of one interface, by name. */
using PropertyMap = std::map<std::string, sdbus::Variant>;

/** @brief The trailing a{sv} every org.vfiod1.Device method takes. */
using MethodOptions = std::map<std::string, sdbus::Variant>;

/** @brief {"force": true} when @p force, else no options. */
MethodOptions forceOptions(bool force);

/** @brief One loaded plugin, as Manager.Plugins lists it. */
struct PluginEntry
{
    std::string name;
    std::string path;
    uint32_t abiMajor = 0;
    uint32_t abiMinor = 0;
    /// "" for a loaded plugin; for one in quarantine (never opened, so no
    /// ABI), vfiod's status: "quarantined: ...".
    std::string quarantine;
};

/** @brief MigrationProgress(phase, bytes) of a device. */
using ProgressHandler =
    std::function<void(const std::string& phase, uint64_t bytes)>;

/** @brief One device as the ObjectManager reports it. */
struct DeviceEntry
{
    sdbus::ObjectPath path;
    PropertyMap properties;
};

inline constexpr const char* serviceName = "org.vfiod1";
inline constexpr const char* rootPath = "/org/vfiod1";
inline constexpr const char* managerInterface = "org.vfiod1.Manager";
inline constexpr const char* deviceInterface = "org.vfiod1.Device";

/**
 * @brief The PCI address a device object path
 * (/org/vfiod1/devices/pci_DDDD_BB_DD_F) names; nullopt for other paths.
 */
std::optional<vfiod::PciAddress> addressOfPath(const std::string& path);

/**
 * @brief vfioctl's connection to vfiod: one bus connection plus typed calls
 * through the proxies generated from the dbus/ XML files.
 *
 * Every call throws sdbus::Error on failure; the caller (main) turns that
 * into a message and an exit code, so no command handles bus errors itself.
 * The connection has no event loop running: calls are synchronous, and
 * only `monitor` dispatches incoming messages, through connection().
 */
class BusClient
{
  public:
    /**
     * @brief Connects to the bus.
     * @param[in] busAddress the bus to use; without it the system bus, whose
     *            address libsystemd takes from DBUS_SYSTEM_BUS_ADDRESS when
     *            that is set.
     * @throws CliError(failed) when the bus cannot be reached.
     */
    explicit BusClient(const std::optional<std::string>& busAddress);
    ~BusClient();

    BusClient(const BusClient&) = delete;
    BusClient& operator=(const BusClient&) = delete;

    sdbus::IConnection& connection();

    /** @brief Manager.GetDevice: vfiod validates and resolves the address. */
    sdbus::ObjectPath getDevice(const std::string& address);

    /**
     * @brief Every device with its properties, in one round trip
     * (ObjectManager.GetManagedObjects), sorted by PCI address.
     */
    std::vector<DeviceEntry> listDevices();

    /** @brief Properties.GetAll(org.vfiod1.Device) on @p device. */
    PropertyMap deviceProperties(const sdbus::ObjectPath& device);

    /** @brief Properties.GetAll(org.vfiod1.Manager) on the root object. */
    PropertyMap managerProperties();

    /** @name Device methods. Slow ones wait up to longCallTimeout. */
    ///@{
    void bind(const sdbus::ObjectPath& device, const MethodOptions& options);
    void unbind(const sdbus::ObjectPath& device, const MethodOptions& options);
    /** @return the lease fd, with FD_CLOEXEC set. */
    sdbus::UnixFd assign(const sdbus::ObjectPath& device,
                         const MethodOptions& options);
    sdbus::UnixFd reattach(const sdbus::ObjectPath& device,
                           const std::string& token);
    void release(const sdbus::ObjectPath& device);
    void reset(const sdbus::ObjectPath& device, const MethodOptions& options);
    /** @return the states passed through. */
    std::vector<std::string> setMigrationState(const sdbus::ObjectPath& device,
                                               const std::string& state);
    /** @brief SaveState, LoadState, Migrate: no timeout, they take as long
     *  as the state is big. @p fd is dup()ed into the message. */
    void saveState(const sdbus::ObjectPath& device, int fd);
    void loadState(const sdbus::ObjectPath& device, int fd);
    void migrate(const sdbus::ObjectPath& device,
                 const sdbus::ObjectPath& target);
    void cancelMigration(const sdbus::ObjectPath& device);
    ///@}

    /** @brief Manager.Plugins. */
    std::vector<PluginEntry> plugins();

    /**
     * @brief While it lives, calls @p handler with the MigrationProgress
     * signals of @p device and cancels the device's migration (a
     * CancelMigration call) on SIGINT or SIGTERM, from threads of its own:
     * the calling thread is blocked in the migration call meanwhile.
     * @throws CliError(failed) when the bus or the signals cannot be set up.
     */
    class MigrationWatch;
    std::unique_ptr<MigrationWatch>
        watchMigration(const sdbus::ObjectPath& device,
                       ProgressHandler handler);

    /** @brief Manager.Reload. */
    void reload();
    PropertyMap explain(const std::string& address);
    std::string udevRules();

  private:
    class ManagerProxy;
    class DeviceProxy;

    ManagerProxy& manager();
    std::unique_ptr<DeviceProxy> device(const sdbus::ObjectPath& path);

    std::optional<std::string> address; ///< the bus, for second connections
    std::unique_ptr<sdbus::IConnection> bus;
    std::unique_ptr<ManagerProxy> managerProxy;
};

/** @brief See BusClient::watchMigration. */
class BusClient::MigrationWatch
{
  public:
    virtual ~MigrationWatch() = default;
    /** @brief Whether a signal asked for the migration to be cancelled. */
    virtual bool interrupted() const = 0;
};

} // namespace vfioctl
