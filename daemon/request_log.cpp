#include "request_log.hpp"

#include "base/pci_address.hpp"

namespace vfiod::daemon
{

std::vector<LogField> requestFields(const std::string& what)
{
    std::vector<LogField> fields;
    size_t space = what.find(' ');
    fields.push_back({logfield::operation, what.substr(0, space)});
    PciAddress address;
    if (space != std::string::npos &&
        PciAddress::tryParse(what.substr(space + 1), address))
    {
        fields.push_back(addressField(address));
    }
    return fields;
}

void logRequest(LogLevel level, const std::string& what,
                const std::string& message, const std::string& error)
{
    std::vector<LogField> fields = requestFields(what);
    if (!error.empty())
    {
        fields.push_back({logfield::error, error});
    }
    logStructured(level, message, fields);
}

void logDone(const std::string& what, const Caller& caller)
{
    logRequest(LogLevel::Info, what, what + " by " + caller.owner() + ": done");
}

} // namespace vfiod::daemon
