#include "error_map.hpp"

#include "logging.hpp"
#include "migration/migration_engine.hpp"

#include <array>
#include <exception>
#include <utility>

namespace vfiod::daemon
{

namespace
{

constexpr std::string_view prefix = "org.vfiod1.Error.";

/** The one table: every code, and the name it has on the bus. */
constexpr std::array<std::pair<Errc, std::string_view>, 10> errorNames{{
    {Errc::NotFound, "org.vfiod1.Error.NotFound"},
    {Errc::InvalidArgument, "org.vfiod1.Error.InvalidArgument"},
    {Errc::Busy, "org.vfiod1.Error.Busy"},
    {Errc::NotViable, "org.vfiod1.Error.NotViable"},
    {Errc::NotSupported, "org.vfiod1.Error.NotSupported"},
    {Errc::Failed, "org.vfiod1.Error.Failed"},
    {Errc::TimedOut, "org.vfiod1.Error.TimedOut"},
    {Errc::AccessDenied, accessDeniedErrorName},
    {Errc::InUse, "org.vfiod1.Error.InUse"},
    {Errc::LimitsExceeded, "org.vfiod1.Error.LimitsExceeded"},
}};

} // namespace

const std::string_view cancelledErrorName = "org.vfiod1.Error.Cancelled";

std::string busErrorName(Errc code)
{
    for (const auto& [errc, name] : errorNames)
    {
        if (errc == code)
        {
            return std::string(name);
        }
    }
    return std::string(prefix) + "Failed";
}

std::optional<Errc> errcFromBusName(std::string_view name)
{
    for (const auto& [errc, busName] : errorNames)
    {
        if (busName == name)
        {
            return errc;
        }
    }
    return std::nullopt;
}

sdbus::Error toBusError(const Error& error)
{
    return sdbus::Error(busErrorName(error.code()), error.what());
}

sdbus::Error currentBusError(std::string_view context)
{
    try
    {
        throw;
    }
    catch (const Error& e)
    {
        return toBusError(e);
    }
    catch (const sdbus::Error& e)
    {
        return e;
    }
    catch (const std::exception& e)
    {
        logError(std::string(context) + ": unexpected failure: " + e.what());
        return sdbus::Error(busErrorName(Errc::Failed),
                            std::string(context) +
                                ": internal error in vfiod: " + e.what());
    }
    catch (...)
    {
        logError(std::string(context) + ": unexpected failure");
        return sdbus::Error(busErrorName(Errc::Failed),
                            std::string(context) + ": internal error in vfiod");
    }
}

sdbus::Error currentMigrationBusError(const std::string& what)
{
    try
    {
        throw;
    }
    catch (const migration::MigrationFailure& e)
    {
        if (e.cancelled())
        {
            return sdbus::Error(std::string(cancelledErrorName),
                                what + ": " + e.what());
        }
        return sdbus::Error(busErrorName(e.code()), what + ": " + e.what());
    }
    catch (...)
    {
        return currentBusError(what);
    }
}

} // namespace vfiod::daemon
