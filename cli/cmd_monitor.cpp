#include "bus_client.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "signal_watch.hpp"

#include <poll.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <sstream>

namespace vfioctl
{

namespace
{

using InterfaceMap = std::map<std::string, PropertyMap>;

/** "2024-05-01 12:00:00.123" for people, ISO 8601 with offset for JSON. */
std::string timestamp(bool iso)
{
    auto now = std::chrono::system_clock::now();
    std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch())
                      .count() %
                  1000;
    std::tm local{};
    localtime_r(&seconds, &local);
    char date[32];
    std::strftime(date, sizeof date, iso ? "%FT%T" : "%F %T", &local);
    char zone[8] = "";
    if (iso)
    {
        std::strftime(zone, sizeof zone, "%z", &local);
    }
    char out[64];
    std::snprintf(out, sizeof out, "%s.%03d%s", date, static_cast<int>(millis),
                  zone);
    return out;
}

/** A value in "Name=value" form, quoted when it would not read as one. */
std::string humanValue(const std::string& name, const sdbus::Variant& value)
{
    std::string text = formatProperty(name, value);
    if (!text.empty() && text.find_first_of(" \"") == std::string::npos)
    {
        return text;
    }
    std::ostringstream quoted;
    JsonWriter::writeString(quoted, text);
    return quoted.str();
}

/**
 * Prints vfiod's events as they arrive, one line each, flushed at once so
 * a reader of a pipe or file sees every event as it happens.
 */
class EventPrinter
{
  public:
    explicit EventPrinter(bool json) : json(json) {}

    void interfacesAdded(sdbus::Message& message)
    {
        sdbus::ObjectPath path;
        InterfaceMap interfaces;
        message >> path >> interfaces;
        auto device = interfaces.find(deviceInterface);
        if (device == interfaces.end())
        {
            return;
        }
        emit("added", path, [&](JsonWriter& out) {
            out.key("properties");
            writeProperties(out, device->second);
        });
    }

    void interfacesRemoved(sdbus::Message& message)
    {
        sdbus::ObjectPath path;
        std::vector<std::string> interfaces;
        message >> path >> interfaces;
        if (std::find(interfaces.begin(), interfaces.end(), deviceInterface) ==
            interfaces.end())
        {
            return;
        }
        emit("removed", path, nullptr);
    }

    void propertiesChanged(sdbus::Message& message)
    {
        std::string interface;
        PropertyMap changed;
        std::vector<std::string> invalidated;
        message >> interface >> changed >> invalidated;
        if (interface != deviceInterface)
        {
            return;
        }
        std::string details;
        for (const auto& [name, value] : changed)
        {
            details += " " + name + "=" + humanValue(name, value);
        }
        for (const auto& name : invalidated)
        {
            details += " " + name + "=?";
        }
        emit(
            "changed", message.getPath(),
            [&](JsonWriter& out) {
                out.key("changed");
                writeProperties(out, changed);
                out.key("invalidated");
                out.beginArray();
                for (const auto& name : invalidated)
                {
                    out.value(name);
                }
                out.endArray();
            },
            details);
    }

    void nameOwnerChanged(sdbus::Message& message)
    {
        std::string name;
        std::string oldOwner;
        std::string newOwner;
        message >> name >> oldOwner >> newOwner;
        std::string event =
            newOwner.empty() ? "vfiod-stopped" : "vfiod-started";
        if (json)
        {
            JsonWriter out(std::cout);
            out.beginObject();
            out.key("time");
            out.value(timestamp(true));
            out.key("event");
            out.value(event);
            out.key("owner");
            out.value(newOwner.empty() ? oldOwner : newOwner);
            out.endObject();
            std::cout << std::endl;
            return;
        }
        std::cout << timestamp(false) << ' '
                  << (newOwner.empty() ? "vfiod stopped" : "vfiod started")
                  << std::endl;
    }

  private:
    using Extra = std::function<void(JsonWriter&)>;

    static void writeProperties(JsonWriter& out, const PropertyMap& map)
    {
        out.beginObject();
        for (const auto& [name, value] : map)
        {
            out.key(name);
            writeJsonValue(out, value);
        }
        out.endObject();
    }

    void emit(const char* event, const std::string& path, const Extra& extra,
              const std::string& details = {})
    {
        auto address = addressOfPath(path);
        std::string shown = address ? address->str() : path;
        if (!json)
        {
            std::cout << timestamp(false) << ' ' << event << ' ' << shown
                      << details << std::endl;
            return;
        }
        JsonWriter out(std::cout);
        out.beginObject();
        out.key("time");
        out.value(timestamp(true));
        out.key("event");
        out.value(event);
        out.key("address");
        out.value(shown);
        out.key("path");
        out.value(path);
        if (extra)
        {
            extra(out);
        }
        out.endObject();
        std::cout << std::endl;
    }

    bool json;
};

std::string signalMatch(const std::string& rest)
{
    return "type='signal',sender='" + std::string(serviceName) + "'," + rest;
}

bool vfiodRunning(sdbus::IConnection& bus)
{
    auto proxy = sdbus::createProxy(bus, "org.freedesktop.DBus",
                                    "/org/freedesktop/DBus");
    bool running = false;
    proxy->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(serviceName))
        .storeResultsTo(running);
    return running;
}

/** Dispatches bus messages until a signal arrives; no threads needed. */
void runEventLoop(sdbus::IConnection& bus, SignalWatch& signals)
{
    for (;;)
    {
        while (bus.processPendingRequest())
        {}
        auto pollData = bus.getEventLoopPollData();
        pollfd fds[2] = {{pollData.fd, pollData.events, 0},
                         {signals.fd(), POLLIN, 0}};
        if (::poll(fds, 2, pollData.getPollTimeout()) < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throw CliError(ExitCode::failed,
                           std::string("poll: ") + std::strerror(errno));
        }
        signalfd_siginfo info;
        if ((fds[1].revents & POLLIN) && signals.read(info))
        {
            // Consumed here: left pending, it would kill vfioctl as soon as
            // SignalWatch unblocks it again.
            return;
        }
        if (fds[0].revents & (POLLHUP | POLLERR))
        {
            throw CliError(ExitCode::failed, "lost the connection to the bus");
        }
    }
}

} // namespace

ExitCode runMonitor(const GlobalOptions& options)
{
    SignalWatch signals({SIGINT, SIGTERM, SIGHUP});
    BusClient client(options.busAddress);
    sdbus::IConnection& bus = client.connection();
    EventPrinter printer(options.json);

    // Plain match rules rather than per-object proxies: PropertiesChanged
    // must be caught for devices that appear after monitor started, which
    // a proxy bound to one path cannot do.
    const std::string objectManager =
        "path='" + std::string(rootPath) +
        "',interface='org.freedesktop.DBus.ObjectManager',member=";
    std::vector<sdbus::Slot> slots;
    slots.push_back(
        bus.addMatch(signalMatch(objectManager + "'InterfacesAdded'"),
                     [&](sdbus::Message& m) { printer.interfacesAdded(m); }));
    slots.push_back(
        bus.addMatch(signalMatch(objectManager + "'InterfacesRemoved'"),
                     [&](sdbus::Message& m) { printer.interfacesRemoved(m); }));
    slots.push_back(bus.addMatch(
        signalMatch("path_namespace='" + std::string(rootPath) +
                    "',interface='org.freedesktop.DBus.Properties',"
                    "member='PropertiesChanged',arg0='" +
                    deviceInterface + "'"),
        [&](sdbus::Message& m) { printer.propertiesChanged(m); }));
    slots.push_back(bus.addMatch(
        "type='signal',sender='org.freedesktop.DBus',"
        "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='" +
            std::string(serviceName) + "'",
        [&](sdbus::Message& m) { printer.nameOwnerChanged(m); }));

    // The matches are installed (addMatch waits for the bus), so from here
    // on no event is missed; scripts may wait for this line.
    std::cerr << "Monitoring vfiod events; interrupt to stop." << std::endl;
    if (!vfiodRunning(bus))
    {
        std::cerr << "vfiod is not running; waiting for it." << std::endl;
    }
    runEventLoop(bus, signals);
    return ExitCode::ok;
}

} // namespace vfioctl
