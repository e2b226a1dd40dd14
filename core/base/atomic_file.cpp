#include "base/atomic_file.hpp"

#include "base/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace vfiod
{

namespace
{

[[noreturn]] void throwErrno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

std::string directoryOf(const std::string& path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
    {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

void writeFileAtomically(const std::string& path, std::string_view text,
                         unsigned mode)
{
    // The pid keeps two writers (a test and a daemon, say) off each
    // other's temporary file.
    std::string temp = path + ".tmp." + std::to_string(::getpid());
    try
    {
        UniqueFd file(::open(temp.c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
        if (!file)
        {
            throwErrno("create " + temp);
        }
        if (::fchmod(file.get(), mode) < 0) // not narrowed by the umask
        {
            throwErrno("chmod " + temp);
        }
        writeAll(file.get(), text, temp);
        if (::fsync(file.get()) < 0)
        {
            throwErrno("fsync " + temp);
        }
        if (::rename(temp.c_str(), path.c_str()) < 0)
        {
            throwErrno("rename " + temp + " to " + path);
        }
    }
    catch (...)
    {
        ::unlink(temp.c_str());
        throw;
    }
    syncDirectory(directoryOf(path));
}

void syncDirectory(const std::string& dir)
{
    UniqueFd directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory || ::fsync(directory.get()) < 0)
    {
        throwErrno("fsync " + dir);
    }
}

std::optional<std::string> readWholeFile(const std::string& path)
{
    UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file)
    {
        if (errno == ENOENT)
        {
            return std::nullopt;
        }
        throwErrno("open " + path);
    }
    return readAll(file.get(), path);
}

void writeAll(int fd, std::string_view text, const std::string& what)
{
    while (!text.empty())
    {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno("write " + what);
        }
        text.remove_prefix(static_cast<size_t>(n));
    }
}

std::string readAll(int fd, const std::string& what)
{
    std::string text;
    char buffer[65536];
    off_t offset = 0;
    for (;;)
    {
        ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno("read " + what);
        }
        if (n == 0)
        {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
        offset += n;
    }
}

} // namespace vfiod
