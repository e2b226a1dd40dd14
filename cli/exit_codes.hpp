#pragma once

namespace vfioctl
{

/**
 * @brief vfioctl's exit status, part of its scripting contract.
 *
 * Scripts branch on these, so each D-Bus error name maps to exactly one
 * code (see cli_error.cpp) and the numbers never change meaning. A command
 * run by `vfioctl assign ADDR -- CMD` passes CMD's own status through
 * instead (128+N when CMD died of signal N, 127/126 when it could not be
 * started), as env(1) and timeout(1) do.
 */
enum class ExitCode : int
{
    /** The request was carried out. */
    ok = 0,
    /**
     * It failed: org.vfiod1.Error.Failed, TimedOut, no connection to the
     * bus, or any error not listed below.
     */
    failed = 1,
    /**
     * The request is malformed: bad command line, or
     * org.vfiod1.Error.InvalidArgument (e.g. a malformed PCI address).
     */
    usage = 2,
    /**
     * Nothing to act on: org.vfiod1.Error.NotFound, or vfiod is not running
     * (org.freedesktop.DBus.Error.ServiceUnknown, NameHasNoOwner).
     */
    notFound = 3,
    /**
     * vfiod understood but declined: org.vfiod1.Error.NotViable, Busy,
     * NotSupported, LimitsExceeded, or org.freedesktop.DBus.Error.AccessDenied.
     */
    refused = 4,
};

/** @brief The value to return from main(). */
constexpr int toInt(ExitCode code) noexcept
{
    return static_cast<int>(code);
}

/** @brief The exit-status table shown at the end of `vfioctl --help`. */
inline constexpr const char* exitCodeHelp =
    "Exit status:\n"
    "  0  success\n"
    "  1  failed (Failed, TimedOut, no bus connection, other errors)\n"
    "  2  usage error (bad arguments, InvalidArgument)\n"
    "  3  not found (NotFound, or vfiod is not running)\n"
    "  4  refused (NotViable, Busy, NotSupported, LimitsExceeded,\n"
    "     AccessDenied)\n"
    "  assign ADDR -- CMD exits with CMD's status (128+N if killed by "
    "signal N).";

} // namespace vfioctl
