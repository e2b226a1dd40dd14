#pragma once

#include "exit_codes.hpp"

#include <stdexcept>
#include <string>

namespace sdbus
{
class Error;
}

namespace vfioctl
{

/**
 * @brief An error vfioctl reports and exits on.
 *
 * The message is printed as "vfioctl: <message>"; the code becomes the exit
 * status. Commands throw it for their own failures; D-Bus errors are turned
 * into one by fromBusError() at the top level, so the mapping lives in one
 * place.
 */
class CliError : public std::runtime_error
{
  public:
    CliError(ExitCode code, const std::string& message) :
        std::runtime_error(message), exitCode(code)
    {}

    ExitCode code() const noexcept
    {
        return exitCode;
    }

  private:
    ExitCode exitCode;
};

/**
 * @brief The exit code for a D-Bus error name (the table in
 * exit_codes.hpp).
 */
ExitCode exitCodeFor(const std::string& errorName);

/**
 * @brief Translates an error returned by the bus or by vfiod.
 *
 * vfiod's messages are written for people and are passed on as they are;
 * only errors of the bus itself ("vfiod is not running", a failed
 * connection) get a message of our own, since the bus's text names no
 * remedy.
 */
CliError fromBusError(const sdbus::Error& error);

} // namespace vfioctl
