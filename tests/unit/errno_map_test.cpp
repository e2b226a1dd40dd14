// The one errno <-> Errc table (base/errno_map): the kernel's "not
// supported" is a failure of what was asked (a reset method that did not
// work answers ENOTTY, e2e 04-reset), a plugin's is NotSupported.

#include "base/errno_map.hpp"

#include <cerrno>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

TEST(ErrnoMap, FromTheKernel)
{
    EXPECT_EQ(errcOfErrno(ENOENT, ErrnoFrom::Kernel), Errc::NotFound);
    EXPECT_EQ(errcOfErrno(ENODEV, ErrnoFrom::Kernel), Errc::NotFound);
    EXPECT_EQ(errcOfErrno(EBUSY, ErrnoFrom::Kernel), Errc::Busy);
    EXPECT_EQ(errcOfErrno(EAGAIN, ErrnoFrom::Kernel), Errc::Busy);
    for (int error :
         {ENOTTY, EOPNOTSUPP, ENOSYS, ETIMEDOUT, EINVAL, EIO, EACCES, EPERM})
    {
        EXPECT_EQ(errcOfErrno(error, ErrnoFrom::Kernel), Errc::Failed) << error;
    }
}

TEST(ErrnoMap, FromAPlugin)
{
    EXPECT_EQ(errcOfErrno(ENOENT, ErrnoFrom::Plugin), Errc::NotFound);
    EXPECT_EQ(errcOfErrno(ENODEV, ErrnoFrom::Plugin), Errc::NotFound);
    EXPECT_EQ(errcOfErrno(EBUSY, ErrnoFrom::Plugin), Errc::Busy);
    EXPECT_EQ(errcOfErrno(EAGAIN, ErrnoFrom::Plugin), Errc::Busy);
    for (int error : {ENOTTY, EOPNOTSUPP, ENOSYS})
    {
        EXPECT_EQ(errcOfErrno(error, ErrnoFrom::Plugin), Errc::NotSupported)
            << error;
    }
    EXPECT_EQ(errcOfErrno(ETIMEDOUT, ErrnoFrom::Plugin), Errc::TimedOut);
    EXPECT_EQ(errcOfErrno(EINVAL, ErrnoFrom::Plugin), Errc::Failed);
    EXPECT_EQ(errcOfErrno(EIO, ErrnoFrom::Plugin), Errc::Failed);
}

TEST(ErrnoMap, ToAPluginEveryCodeHasItsErrno)
{
    EXPECT_EQ(errnoOfErrc(Errc::NotFound, ErrnoTo::Service), ENOENT);
    EXPECT_EQ(errnoOfErrc(Errc::NotFound, ErrnoTo::Result), ENODEV);
    EXPECT_EQ(errnoOfErrc(Errc::InvalidArgument, ErrnoTo::Result), EINVAL);
    EXPECT_EQ(errnoOfErrc(Errc::Busy, ErrnoTo::Result), EBUSY);
    EXPECT_EQ(errnoOfErrc(Errc::NotViable, ErrnoTo::Result), EPERM);
    EXPECT_EQ(errnoOfErrc(Errc::NotSupported, ErrnoTo::Result), EOPNOTSUPP);
    EXPECT_EQ(errnoOfErrc(Errc::Failed, ErrnoTo::Result), EIO);
    EXPECT_EQ(errnoOfErrc(Errc::TimedOut, ErrnoTo::Result), ETIMEDOUT);
    EXPECT_EQ(errnoOfErrc(Errc::AccessDenied, ErrnoTo::Result), EACCES);
    EXPECT_EQ(errnoOfErrc(Errc::LimitsExceeded, ErrnoTo::Result), EAGAIN);
    // What a plugin is told comes back as the same code where the table
    // goes both ways.
    for (Errc code : {Errc::NotFound, Errc::Busy, Errc::NotSupported,
                      Errc::TimedOut, Errc::Failed})
    {
        for (ErrnoTo to : {ErrnoTo::Service, ErrnoTo::Result})
        {
            EXPECT_EQ(errcOfErrno(errnoOfErrc(code, to), ErrnoFrom::Plugin),
                      code);
        }
    }
}

} // namespace
} // namespace vfiod
