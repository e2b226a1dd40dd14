#pragma once

#include <systemd/sd-bus.h>

#include <string>

/**
 * @brief The thinnest D-Bus client there is: sd-bus itself, so that what a
 * benchmark measures is vfiod and the bus, not a client library.
 */
namespace vfiod::bench
{

inline constexpr const char* service = "org.vfiod1";
inline constexpr const char* managerPath = "/org/vfiod1";
inline constexpr const char* deviceInterface = "org.vfiod1.Device";

/** @brief One connection, closed on destruction. */
class BusClient
{
  public:
    /** @param address a D-Bus address ("unix:path=/run/..."). */
    explicit BusClient(const std::string& address);
    ~BusClient();
    BusClient(const BusClient&) = delete;
    BusClient& operator=(const BusClient&) = delete;

    sd_bus* get() const noexcept
    {
        return bus;
    }

    /**
     * @brief Calls @p member with no arguments, or with an empty a{sv}
     * when @p emptyOptions; throws with the D-Bus error on failure.
     */
    void call(const std::string& path, const char* interface,
              const char* member, bool emptyOptions = false);

    /** @brief org.freedesktop.DBus.Peer.Ping on vfiod's manager. */
    void ping();

    /** @brief Properties.Get of one Device property (value discarded). */
    void getProperty(const std::string& path, const char* name);

    /** @brief Manager.GetDevice(address) -> object path. */
    std::string getDevice(const std::string& address);

    /** @brief GetManagedObjects, reply walked to its end; objects seen. */
    size_t getManagedObjects();

  private:
    sd_bus* bus = nullptr;
};

/** @brief "/org/vfiod1/devices/pci_0000_01_00_0" for "0000:01:00.0". */
std::string devicePath(const std::string& address);

/** @brief An environment variable, or an exception naming it. */
std::string requiredEnv(const char* name);

} // namespace vfiod::bench
