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
    EXPECT_EQ(errnoOfErrc(Errc::NotFound), ENOENT);
    EXPECT_EQ(errnoOfErrc(Errc::InvalidArgument), EINVAL);
    EXPECT_EQ(errnoOfErrc(Errc::Busy), EBUSY);
    EXPECT_EQ(errnoOfErrc(Errc::NotViable), EPERM);
    EXPECT_EQ(errnoOfErrc(Errc::NotSupported), EOPNOTSUPP);
    EXPECT_EQ(errnoOfErrc(Errc::Failed), EIO);
    EXPECT_EQ(errnoOfErrc(Errc::TimedOut), ETIMEDOUT);
    EXPECT_EQ(errnoOfErrc(Errc::AccessDenied), EACCES);
    // What a plugin is told comes back as the same code where the table
    // goes both ways.
    for (Errc code : {Errc::NotFound, Errc::Busy, Errc::NotSupported,
                      Errc::TimedOut, Errc::Failed})
    {
        EXPECT_EQ(errcOfErrno(errnoOfErrc(code), ErrnoFrom::Plugin), code);
    }
}

} // namespace
} // namespace vfiod
