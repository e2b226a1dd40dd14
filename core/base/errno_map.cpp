#include "base/errno_map.hpp"

#include <cerrno>

namespace vfiod
{

Errc errcOfErrno(int error, ErrnoFrom from) noexcept
{
    switch (error)
    {
        case ENOENT:
        case ENODEV:
            return Errc::NotFound;
        case EBUSY:
        case EAGAIN:
            return Errc::Busy;
        case EOPNOTSUPP:
        case ENOTTY:
        case ENOSYS:
            return from == ErrnoFrom::Plugin ? Errc::NotSupported
                                             : Errc::Failed;
        case ETIMEDOUT:
            return from == ErrnoFrom::Plugin ? Errc::TimedOut : Errc::Failed;
        default:
            return Errc::Failed;
    }
}

int errnoOfErrc(Errc code, ErrnoTo to) noexcept
{
    switch (code)
    {
        case Errc::NotFound:
            return to == ErrnoTo::Service ? ENOENT : ENODEV;
        case Errc::InvalidArgument:
            return EINVAL;
        case Errc::Busy:
        case Errc::InUse:
            return EBUSY;
        case Errc::NotViable:
            return EPERM;
        case Errc::NotSupported:
            return EOPNOTSUPP;
        case Errc::TimedOut:
            return ETIMEDOUT;
        case Errc::AccessDenied:
            return EACCES;
        case Errc::LimitsExceeded:
            return EAGAIN;
        case Errc::Failed:
            break;
    }
    return EIO;
}

} // namespace vfiod
