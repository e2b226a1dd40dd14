#include "base/error.hpp"

namespace vfiod
{

std::string_view errcName(Errc code) noexcept
{
    switch (code)
    {
        case Errc::NotFound:
            return "NotFound";
        case Errc::InvalidArgument:
            return "InvalidArgument";
        case Errc::Busy:
            return "Busy";
        case Errc::NotViable:
            return "NotViable";
        case Errc::NotSupported:
            return "NotSupported";
        case Errc::Failed:
            return "Failed";
        case Errc::TimedOut:
            return "TimedOut";
        case Errc::AccessDenied:
            return "AccessDenied";
        case Errc::InUse:
            return "InUse";
        case Errc::LimitsExceeded:
            return "LimitsExceeded";
    }
    return "Failed";
}

void fail(Errc code, const std::string& message)
{
    throw Error(code, message);
}

} // namespace vfiod
