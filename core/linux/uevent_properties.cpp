#include "linux/uevent_properties.hpp"

#include <utility>

namespace vfiod
{

void addUeventProperty(Uevent& event, std::string name, std::string value)
{
    if (name == "DRIVER")
    {
        event.driver = std::move(value);
    }
    else if (name != "ACTION" && name != "SUBSYSTEM" && name != "DEVPATH" &&
             name != "SEQNUM")
    {
        event.properties.emplace(std::move(name), std::move(value));
    }
}

} // namespace vfiod
