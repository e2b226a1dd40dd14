#include "bus_client.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vfiod::bench
{

namespace
{

void check(int r, const std::string& what)
{
    if (r < 0)
    {
        throw std::runtime_error(what + ": " + std::strerror(-r));
    }
}

/** @brief Frees an sd_bus_error and an sd_bus_message on scope exit. */
struct Reply
{
    sd_bus_error error{}; // SD_BUS_ERROR_NULL, without its C99 literal
    sd_bus_message* message = nullptr;

    ~Reply()
    {
        sd_bus_error_free(&error);
        sd_bus_message_unref(message);
    }

    void check(int r, const std::string& what) const
    {
        if (r < 0)
        {
            throw std::runtime_error(
                what + ": " +
                (error.name != nullptr
                     ? std::string(error.name) + ": " +
                           (error.message != nullptr ? error.message : "")
                     : std::string(std::strerror(-r))));
        }
    }
};

} // namespace

BusClient::BusClient(const std::string& address)
{
    check(sd_bus_new(&bus), "sd_bus_new");
    check(sd_bus_set_address(bus, address.c_str()), "sd_bus_set_address");
    check(sd_bus_set_bus_client(bus, 1), "sd_bus_set_bus_client");
    check(sd_bus_start(bus), "connect to " + address);
    // A SaveState of a GiB takes longer than sd-bus's default 25 s under
    // a sanitizer build.
    check(sd_bus_set_method_call_timeout(bus, 600ULL * 1000 * 1000),
          "sd_bus_set_method_call_timeout");
}

BusClient::~BusClient()
{
    sd_bus_flush_close_unref(bus);
}

void BusClient::call(const std::string& path, const char* interface,
                     const char* member, bool emptyOptions)
{
    Reply reply;
    int r =
        emptyOptions
            ? sd_bus_call_method(bus, service, path.c_str(), interface, member,
                                 &reply.error, &reply.message, "a{sv}", 0)
            : sd_bus_call_method(bus, service, path.c_str(), interface, member,
                                 &reply.error, &reply.message, nullptr);
    reply.check(r, std::string(member) + " on " + path);
}

void BusClient::ping()
{
    call(managerPath, "org.freedesktop.DBus.Peer", "Ping");
}

void BusClient::getProperty(const std::string& path, const char* name)
{
    Reply reply;
    reply.check(sd_bus_call_method(bus, service, path.c_str(),
                                   "org.freedesktop.DBus.Properties", "Get",
                                   &reply.error, &reply.message, "ss",
                                   deviceInterface, name),
                std::string("Get ") + name);
    check(sd_bus_message_skip(reply.message, "v"), "read property");
}

std::string BusClient::getDevice(const std::string& address)
{
    Reply reply;
    reply.check(sd_bus_call_method(bus, service, managerPath,
                                   "org.vfiod1.Manager", "GetDevice",
                                   &reply.error, &reply.message, "s",
                                   address.c_str()),
                "GetDevice " + address);
    const char* path = nullptr;
    check(sd_bus_message_read(reply.message, "o", &path), "read GetDevice");
    return path;
}

size_t BusClient::getManagedObjects()
{
    Reply reply;
    reply.check(sd_bus_call_method(bus, service, managerPath,
                                   "org.freedesktop.DBus.ObjectManager",
                                   "GetManagedObjects", &reply.error,
                                   &reply.message, nullptr),
                "GetManagedObjects");
    check(sd_bus_message_enter_container(reply.message, 'a', "{oa{sa{sv}}}"),
          "read GetManagedObjects");
    size_t objects = 0;
    while (sd_bus_message_at_end(reply.message, 0) == 0)
    {
        check(sd_bus_message_skip(reply.message, "{oa{sa{sv}}}"),
              "read GetManagedObjects");
        ++objects;
    }
    return objects;
}

std::string devicePath(const std::string& address)
{
    std::string path = "/org/vfiod1/devices/pci_";
    for (char c : address)
    {
        path += (c == ':' || c == '.') ? '_' : c;
    }
    return path;
}

std::string requiredEnv(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
    {
        throw std::runtime_error(std::string(name) + " is not set");
    }
    return value;
}

} // namespace vfiod::bench
