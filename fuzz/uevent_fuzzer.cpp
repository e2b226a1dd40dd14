// Uevents, the text anyone who can make the kernel (or udevd) announce a
// device controls: the properties of a udev event as
// linux/uevent_properties.cpp files them into a Uevent, and the simulated
// kernel's uevent log lines (sim/sim_uevent_log.cpp).
//
// The input is read twice. As the kernel's netlink message: NUL-separated
// NAME=VALUE entries (an entry without '=' is skipped, as libudev does).
// As the uevent log: one event per line.

#include "fuzz_check.hpp"
#include "linux/uevent_properties.hpp"
#include "sim/sim_uevent_log.hpp"

#include <optional>
#include <string>

using vfiod::Uevent;
namespace fuzz = vfiod::fuzz;
namespace sim = vfiod::sim;

namespace
{

bool same(const Uevent& a, const Uevent& b)
{
    return a.seqnum == b.seqnum && a.action == b.action &&
           a.subsystem == b.subsystem && a.sysname == b.sysname &&
           a.devpath == b.devpath && a.driver == b.driver &&
           a.properties == b.properties;
}

/** @brief The event goes through the uevent log unchanged. */
void requireLogged(const Uevent& event)
{
    std::string line = sim::formatUevent(event);
    fuzz::require(!line.empty() && line.back() == '\n' &&
                      line.find('\n') == line.size() - 1,
                  "a logged uevent is one line");
    line.pop_back();
    std::optional<Uevent> back = sim::parseUevent(line);
    fuzz::require(back && same(*back, event),
                  "a uevent reads back from the log unchanged");
}

void fromProperties(std::string_view message)
{
    Uevent event;
    std::optional<std::string> lastDriver;
    while (!message.empty())
    {
        size_t end = message.find('\0');
        std::string_view entry = message.substr(0, end);
        message = end == std::string_view::npos ? std::string_view()
                                                : message.substr(end + 1);
        size_t equals = entry.find('=');
        if (equals == std::string_view::npos)
        {
            continue;
        }
        std::string name(entry.substr(0, equals));
        if (name == "DRIVER")
        {
            lastDriver = std::string(entry.substr(equals + 1));
        }
        vfiod::addUeventProperty(event, name,
                                 std::string(entry.substr(equals + 1)));
    }
    fuzz::require(event.driver == lastDriver.value_or(""),
                  "DRIVER is the event's driver");
    for (const char* kept :
         {"DRIVER", "ACTION", "SUBSYSTEM", "DEVPATH", "SEQNUM"})
    {
        fuzz::require(!event.properties.contains(kept),
                      "the event's own fields are not kept as properties");
    }
    requireLogged(event);
}

void fromLog(std::string_view log)
{
    while (!log.empty())
    {
        size_t end = log.find('\n');
        std::optional<Uevent> event = sim::parseUevent(log.substr(0, end));
        if (event)
        {
            requireLogged(*event);
        }
        log = end == std::string_view::npos ? std::string_view()
                                            : log.substr(end + 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    fromProperties(fuzz::text(data, size));
    fromLog(fuzz::text(data, size));
    return 0;
}
