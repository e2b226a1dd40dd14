#pragma once

#include "base/error.hpp"

namespace vfiod
{

/** @brief Who answered with an errno: the meaning of some depends on it. */
enum class ErrnoFrom
{
    /// A sysfs write or a VFIO open. vfiod checks what a device offers
    /// before it asks, so "not supported" there is the kernel's way of
    /// saying the thing asked for failed (a reset method that did not
    /// work answers ENOTTY): Failed.
    Kernel,
    /// A plugin op's -errno, as vfiod-plugin(7) documents it.
    Plugin,
};

/**
 * @brief The one table from errno values to vfiod's error codes.
 *
 * ENOENT and ENODEV are NotFound (the device or driver vanished), EBUSY
 * and EAGAIN Busy. From a plugin also EOPNOTSUPP, ENOTTY and ENOSYS
 * NotSupported and ETIMEDOUT TimedOut. Anything else is Failed, EINVAL
 * included: from the kernel or a plugin it refuses what vfiod asked, it is
 * not a malformed request of the caller's.
 */
Errc errcOfErrno(int error, ErrnoFrom from) noexcept;

/** @brief What a plugin is told an errno about. */
enum class ErrnoTo
{
    /// A host service's answer (sysfs_read, run_helper...): NotFound is
    /// ENOENT, a missing file or helper, as vfiod-plugin(7) documents.
    Service,
    /// The result of an operation a cleanup op hears of: NotFound is
    /// ENODEV, the device went away, as the kernel says it.
    Result,
};

/**
 * @brief The positive errno vfiod tells a plugin for a code: NotFound as
 * ErrnoTo says, EINVAL for InvalidArgument, EBUSY for Busy, EPERM for
 * NotViable (as VFIO refuses a group that is not viable), EOPNOTSUPP for
 * NotSupported, ETIMEDOUT for TimedOut, EACCES for AccessDenied, EIO for
 * Failed.
 */
int errnoOfErrc(Errc code, ErrnoTo to) noexcept;

} // namespace vfiod
