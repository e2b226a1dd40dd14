#pragma once

#include "authz.hpp"
#include "error_map.hpp"
#include "logging.hpp"

#include <string>
#include <vector>

namespace vfiod::daemon
{

/**
 * @brief The journal fields of a request described as "Bind 0000:03:00.0":
 * the operation, and the device when there is one.
 */
std::vector<LogField> requestFields(const std::string& what);

/** @brief A request's outcome, with its fields for the journal. */
void logRequest(LogLevel level, const std::string& what,
                const std::string& message, const std::string& error = "");

/** @brief A request that succeeded: "Bind 0000:03:00.0 by :1.42 uid=0:
 *  done". */
void logDone(const std::string& what, const Caller& caller);

/**
 * @brief Runs @p body; a failure becomes the error reply (through
 * @p toError, which maps the exception in flight), logged once here, the
 * boundary, at info level: refusals are the caller's business, not the
 * daemon's, and unexpected errors were logged by currentBusError.
 */
template <typename Reply, typename Body, typename ToError>
void answer(Reply& reply, Body&& body, ToError&& toError)
{
    try
    {
        body();
    }
    catch (...)
    {
        sdbus::Error error = toError(reply.description());
        logRequest(LogLevel::Info, reply.description(),
                   reply.description() + " failed: " + error.getName() + ": " +
                       error.getMessage(),
                   error.getName());
        reply.fail(std::move(error));
    }
}

template <typename Reply, typename Body>
void answer(Reply& reply, Body&& body)
{
    answer(reply, std::forward<Body>(body),
           [](const std::string& what) { return currentBusError(what); });
}

} // namespace vfiod::daemon
