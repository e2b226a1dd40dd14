#include "base/atomic_file.hpp"

#include "base/error.hpp"
#include "base/fd.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
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

std::string baseOf(const std::string& path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

/** @brief NAME in DIR as a person reads it; DIR "" when NAME is a path. */
std::string shown(const std::string& dir, const std::string& name)
{
    return dir.empty() ? name : dir + "/" + name;
}

/**
 * @brief A suffix nobody can guess ahead of the write. The name is only a
 * courtesy (O_EXCL is what keeps a planted file out); being unguessable
 * keeps a planter from making every attempt collide. GRND_NONBLOCK: an
 * early boot without entropy yet gets the clock and a counter instead of
 * a start-up that waits.
 */
std::string randomSuffix()
{
    uint64_t value = 0;
    if (::getrandom(&value, sizeof value, GRND_NONBLOCK) !=
        static_cast<ssize_t>(sizeof value))
    {
        static std::atomic<uint64_t> counter{0};
        value =
            static_cast<uint64_t>(
                std::chrono::steady_clock::now().time_since_epoch().count()) ^
            (static_cast<uint64_t>(::getpid()) << 32) ^ ++counter;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(value));
    return hex;
}

/**
 * @brief Creates a new temporary file for NAME in the directory: a random
 * name, O_EXCL so that nothing already there (a file, or a symlink even
 * dangling) is opened, O_NOFOLLOW as a second lock on the same door.
 * O_TMPFILE would leave no name to plant at until linkat, but linkat
 * cannot replace the target, so a named temporary and a rename are needed
 * anyway; this one way works on every filesystem.
 */
UniqueFd createTemporary(int dirFd, const std::string& dir,
                         const std::string& name, std::string& temp)
{
    constexpr int attempts = 16;
    for (int i = 0; i < attempts; ++i)
    {
        temp = name + ".tmp." + randomSuffix();
        // 0600 until it is complete: nobody reads a half-written file.
        UniqueFd file(::openat(
            dirFd, temp.c_str(),
            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (file)
        {
            return file;
        }
        if (errno != EEXIST)
        {
            throwErrno("create " + shown(dir, temp));
        }
    }
    throw std::system_error(EEXIST, std::generic_category(),
                            "create a temporary file for " + shown(dir, name) +
                                ": every name tried is taken");
}

std::string kindOf(mode_t mode)
{
    if (S_ISLNK(mode))
    {
        return "a symbolic link";
    }
    if (S_ISDIR(mode))
    {
        return "a directory";
    }
    if (S_ISFIFO(mode))
    {
        return "a FIFO";
    }
    if (S_ISSOCK(mode))
    {
        return "a socket";
    }
    if (S_ISCHR(mode))
    {
        return "a character device";
    }
    if (S_ISBLK(mode))
    {
        return "a block device";
    }
    return "not a regular file";
}

void requireRegular(const struct stat& st, const std::string& path,
                    size_t maxBytes)
{
    if (S_ISLNK(st.st_mode))
    {
        fail(Errc::InvalidArgument, path + " is a symbolic link: not followed");
    }
    if (!S_ISREG(st.st_mode))
    {
        fail(Errc::InvalidArgument,
             path + " is " + kindOf(st.st_mode) + ", not a regular file");
    }
    if (static_cast<uintmax_t>(st.st_size) > maxBytes)
    {
        fail(Errc::InvalidArgument, path + " holds " +
                                        std::to_string(st.st_size) +
                                        " bytes, more than the " +
                                        std::to_string(maxBytes) + " it may");
    }
}

} // namespace

void writeFileAtomically(const std::string& path, std::string_view text,
                         unsigned mode)
{
    std::string dir = directoryOf(path);
    UniqueFd directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory)
    {
        throwErrno("open " + dir);
    }
    writeFileAtomicallyAt(directory.get(), dir, baseOf(path), text, mode);
}

void writeFileAtomicallyAt(int dirFd, const std::string& dir,
                           const std::string& name, std::string_view text,
                           unsigned mode)
{
    std::string temp;
    UniqueFd file = createTemporary(dirFd, dir, name, temp);
    try
    {
        if (::fchmod(file.get(), mode) < 0) // not narrowed by the umask
        {
            throwErrno("chmod " + shown(dir, temp));
        }
        writeAll(file.get(), text, shown(dir, temp));
        if (::fsync(file.get()) < 0)
        {
            throwErrno("fsync " + shown(dir, temp));
        }
        // Whatever is at NAME, a planted symlink included, is replaced as
        // a name: rename never writes through a link.
        if (::renameat(dirFd, temp.c_str(), dirFd, name.c_str()) < 0)
        {
            throwErrno("rename " + shown(dir, temp) + " to " +
                       shown(dir, name));
        }
    }
    catch (...)
    {
        ::unlinkat(dirFd, temp.c_str(), 0);
        throw;
    }
    if (::fsync(dirFd) < 0)
    {
        throwErrno("fsync " + dir);
    }
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

std::optional<std::string> readRegularFile(const std::string& path,
                                           size_t maxBytes)
{
    // AT_FDCWD: only the last component is the one not followed.
    return readRegularFileAt(AT_FDCWD, "", path, maxBytes);
}

std::optional<std::string> readRegularFileAt(int dirFd, const std::string& dir,
                                             const std::string& name,
                                             size_t maxBytes)
{
    std::string path = shown(dir, name);
    // Looked at before it is opened: opening a device node can do things
    // (rewind a tape, hang up a line), so only a regular file is opened.
    struct stat st;
    if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
        if (errno == ENOENT)
        {
            return std::nullopt;
        }
        throwErrno("stat " + path);
    }
    requireRegular(st, path, maxBytes);
    // O_NONBLOCK and O_NOFOLLOW again: the name may have been swapped for
    // a FIFO or a link since the look, and neither may hang or lead away.
    UniqueFd file(
        ::openat(dirFd, name.c_str(),
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!file)
    {
        if (errno == ENOENT)
        {
            return std::nullopt;
        }
        if (errno == ELOOP)
        {
            fail(Errc::InvalidArgument,
                 path + " is a symbolic link: not followed");
        }
        throwErrno("open " + path);
    }
    if (::fstat(file.get(), &st) < 0)
    {
        throwErrno("stat " + path);
    }
    requireRegular(st, path, maxBytes);
    std::string text;
    char buffer[65536];
    for (;;)
    {
        ssize_t n = ::pread(file.get(), buffer, sizeof buffer,
                            static_cast<off_t>(text.size()));
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno("read " + path);
        }
        if (n == 0)
        {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > maxBytes) // grown since the look
        {
            fail(Errc::InvalidArgument, path + " holds more than the " +
                                            std::to_string(maxBytes) +
                                            " bytes it may");
        }
    }
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
