#pragma once

#include "base/error.hpp"

#include <sdbus-c++/Error.h>

#include <optional>
#include <string>
#include <string_view>

namespace vfiod::daemon
{

/** @brief The standard name callers who are not allowed get. */
inline constexpr std::string_view accessDeniedErrorName =
    "org.freedesktop.DBus.Error.AccessDenied";

/**
 * @brief A save, load or migrate that CancelMigration stopped. Not a core
 * code: the core reports it as a MigrationFailure that was cancelled().
 */
extern const std::string_view cancelledErrorName;

/**
 * @brief The D-Bus error name of a core error code:
 * "org.vfiod1.Error.<Name>", except AccessDenied, which uses the standard
 * org.freedesktop.DBus.Error.AccessDenied that every D-Bus tool knows.
 */
std::string busErrorName(Errc code);

/** @brief The inverse of busErrorName; std::nullopt for foreign names. */
std::optional<Errc> errcFromBusName(std::string_view name);

/** @brief A core error as the error reply of a method call. */
sdbus::Error toBusError(const Error& error);

/**
 * @brief The exception being handled (call it inside a catch block) as an
 * error reply. vfiod::Error maps through the table, sdbus::Error passes
 * as it is; anything else is a bug: it is logged with @p context and
 * becomes org.vfiod1.Error.Failed, never a generic or errno-derived name.
 */
sdbus::Error currentBusError(std::string_view context);

/**
 * @brief currentBusError for save, load and migrate: a MigrationFailure
 * that was cancelled() goes out as Cancelled, any other with its code;
 * the message starts with @p what and says where the device was left.
 */
sdbus::Error currentMigrationBusError(const std::string& what);

/**
 * @brief Runs a method or property handler body and turns whatever it
 * throws into an sdbus::Error: sdbus-c++ 1.2 catches only sdbus::Error in
 * callbacks, and anything else would unwind through sd-bus and end the
 * daemon.
 */
template <typename Body>
decltype(auto) guarded(std::string_view context, Body&& body)
{
    try
    {
        return body();
    }
    catch (...)
    {
        throw currentBusError(context);
    }
}

} // namespace vfiod::daemon
