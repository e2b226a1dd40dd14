#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace vfiod
{

/**
 * @brief The kinds of failure vfiod reports.
 *
 * Each code maps one-to-one to a D-Bus error name org.vfiod1.Error.<Name>
 * (see errcName); the D-Bus layer does that mapping, core stays bus-free.
 */
enum class Errc
{
    NotFound,        ///< no such device, driver or file
    InvalidArgument, ///< the request itself is malformed
    Busy,            ///< the device or its group is in use or mid-operation
    NotViable,       ///< the IOMMU group holds a device on a DMA driver
    NotSupported,    ///< the device cannot do this (bridge, no reset method)
    Failed,          ///< the kernel refused or did not do what was asked
    TimedOut,        ///< the kernel did not answer in time
    AccessDenied,    ///< the caller is not allowed
    InUse,           ///< a process outside vfiod's leases holds the device
    LimitsExceeded,  ///< the caller or the device has too many calls pending
};

/** @brief "NotFound", "InvalidArgument", ... as used in D-Bus names. */
std::string_view errcName(Errc code) noexcept;

/**
 * @brief The one exception type core throws for expected failures.
 *
 * The message is meant for a person: it names the device, the driver or the
 * group member that is in the way, and what to do about it.
 */
class Error : public std::runtime_error
{
  public:
    Error(Errc code, const std::string& message) :
        std::runtime_error(message), errc(code)
    {}

    Errc code() const noexcept
    {
        return errc;
    }

  private:
    Errc errc;
};

/** @brief Throws Error(code, message). */
[[noreturn]] void fail(Errc code, const std::string& message);

} // namespace vfiod
