#include "plugin/plugin_state_dir.hpp"

#include "base/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace vfiod
{

std::string withoutTrailingSlashes(std::string path)
{
    while (path.size() > 1 && path.back() == '/')
    {
        path.pop_back();
    }
    return path;
}

UniqueFd openStateDirectory(int at, const std::string& name,
                            const std::string& path, const std::string& what)
{
    // mkdirat does not follow a link at the name: a link there is EEXIST,
    // and refused below.
    if (::mkdirat(at, name.c_str(), 0755) < 0 && errno != EEXIST)
    {
        fail(Errc::Failed, "cannot create " + what + " " + path + ": " +
                               std::strerror(errno));
    }
    UniqueFd fd(::openat(at, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd)
    {
        return fd;
    }
    int error = errno;
    struct stat st;
    if ((error == ELOOP || error == ENOTDIR) &&
        ::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
        fail(Errc::InvalidArgument,
             what + " " + path +
                 (S_ISLNK(st.st_mode)
                      ? " is a symbolic link: vfiod keeps its plugin state "
                        "only in a real directory, since a link could lead "
                        "its files anywhere; replace the link by a directory"
                      : " is not a directory"));
    }
    fail(Errc::Failed,
         "cannot open " + what + " " + path + ": " + std::strerror(error));
}

} // namespace vfiod
