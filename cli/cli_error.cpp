#include "cli_error.hpp"

#include <sdbus-c++/Error.h>

#include <array>
#include <string_view>
#include <utility>

namespace vfioctl
{

namespace
{

constexpr std::array<std::pair<std::string_view, ExitCode>, 15> errorTable{{
    {"org.vfiod1.Error.Failed", ExitCode::failed},
    {"org.vfiod1.Error.TimedOut", ExitCode::failed},
    {"org.vfiod1.Error.InvalidArgument", ExitCode::usage},
    {"org.vfiod1.Error.NotFound", ExitCode::notFound},
    {"org.freedesktop.DBus.Error.ServiceUnknown", ExitCode::notFound},
    {"org.freedesktop.DBus.Error.NameHasNoOwner", ExitCode::notFound},
    {"org.vfiod1.Error.NotViable", ExitCode::refused},
    {"org.vfiod1.Error.InUse", ExitCode::refused},
    {"org.vfiod1.Error.Busy", ExitCode::refused},
    {"org.vfiod1.Error.NotSupported", ExitCode::refused},
    // Too many calls pending, of the caller or on the device, or the bus
    // out of its own limits: declined, try again later.
    {"org.vfiod1.Error.LimitsExceeded", ExitCode::refused},
    {"org.freedesktop.DBus.Error.LimitsExceeded", ExitCode::refused},
    {"org.freedesktop.DBus.Error.AccessDenied", ExitCode::refused},
    // polkit denials arrive under this name when a daemon forwards them.
    {"org.freedesktop.PolicyKit1.Error.NotAuthorized", ExitCode::refused},
    {"org.freedesktop.DBus.Error.NoReply", ExitCode::failed},
}};

bool isServiceMissing(const std::string& name)
{
    return name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           name == "org.freedesktop.DBus.Error.NameHasNoOwner";
}

} // namespace

ExitCode exitCodeFor(const std::string& errorName)
{
    for (const auto& [name, code] : errorTable)
    {
        if (name == errorName)
        {
            return code;
        }
    }
    return ExitCode::failed;
}

CliError fromBusError(const sdbus::Error& error)
{
    const std::string& name = error.getName();
    if (isServiceMissing(name))
    {
        return {ExitCode::notFound, "vfiod is not running"};
    }
    if (name == "org.freedesktop.DBus.Error.NoReply")
    {
        return {ExitCode::failed,
                "vfiod did not answer in time: " + error.getMessage()};
    }
    if (name == "org.freedesktop.DBus.Error.AccessDenied" &&
        error.getMessage().empty())
    {
        return {ExitCode::refused, "access denied"};
    }
    // sdbus-c++ reports local failures (connect, send) with errno names.
    if (name.starts_with("System.Error."))
    {
        return {ExitCode::failed, "D-Bus: " + error.getMessage()};
    }
    std::string message = error.getMessage();
    if (message.empty())
    {
        message = name;
    }
    return {exitCodeFor(name), message};
}

} // namespace vfioctl
