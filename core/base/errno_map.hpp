#pragma once

#include "base/error.hpp"

namespace vfiod
{

/**
 * @brief The one table between errno values and vfiod's error codes.
 *
 * From errno (kernel writes, ioctls, a plugin op's -errno): ENOENT and
 * ENODEV are NotFound (the device or driver vanished), EBUSY and EAGAIN
 * Busy, EOPNOTSUPP, ENOTTY and ENOSYS NotSupported (the kernel's "no such
 * reset" is ENOTTY), ETIMEDOUT TimedOut, EACCES AccessDenied; anything
 * else is Failed, EINVAL included: from the kernel it is a refusal of what
 * vfiod wrote, not a malformed request of the caller's.
 */
Errc errcOfErrno(int error) noexcept;

/**
 * @brief The positive errno vfiod tells a plugin for a code (a host
 * service that failed, the result of an operation its cleanup op hears
 * of): ENOENT for NotFound (vfiod-plugin(7) documents it for the host
 * services), EINVAL for InvalidArgument, EPERM for NotViable (as VFIO
 * refuses a group that is not viable), EIO for Failed, the first errno
 * above otherwise.
 */
int errnoOfErrc(Errc code) noexcept;

} // namespace vfiod
