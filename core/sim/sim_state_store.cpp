#include "sim/sim_state_store.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>

namespace vfiod::sim
{

namespace
{

[[noreturn]] void throwErrno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

SimStateStore::SimStateStore(std::string dir) : directory(std::move(dir))
{
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec)
    {
        fail(Errc::Failed, "cannot create the simulated kernel's state "
                           "directory " +
                               directory + ": " + ec.message());
    }
    std::string path = directory + "/lock";
    lockFd = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lockFd)
    {
        fail(Errc::Failed, "cannot open " + path + ": " +
                               std::system_category().message(errno));
    }
}

SimStateStore::Lock::Lock(int fd, bool exclusive) : fd(fd)
{
    while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    {
        if (errno != EINTR)
        {
            throwErrno("flock");
        }
    }
}

SimStateStore::Lock::~Lock()
{
    ::flock(fd, LOCK_UN);
}

bool SimStateStore::refresh(Model& model)
{
    std::string path = statePath();
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
    {
        if (errno == ENOENT)
        {
            cached.reset();
            return false;
        }
        throwErrno("open " + path);
    }
    // The first line carries instance + generation: reading it is all an
    // unchanged state costs.
    char head[128];
    ssize_t n;
    do
    {
        n = ::pread(fd.get(), head, sizeof head, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
    {
        throwErrno("read " + path);
    }
    std::string_view first(head, static_cast<size_t>(n));
    size_t newline = first.find('\n');
    std::optional<StateStamp> stamp;
    if (newline != std::string_view::npos)
    {
        stamp = parseStateStamp(first.substr(0, newline));
    }
    if (stamp && cached && *stamp == *cached)
    {
        return true;
    }
    model = parseState(readAll(fd.get(), path), path);
    cached = StateStamp{model.instance, model.generation};
    return true;
}

void SimStateStore::save(Model& model)
{
    ++model.generation;
    std::string text = formatState(model);
    std::string path = statePath();
    std::string temp = path + ".tmp";
    // Writers hold the state's exclusive lock, so the name is theirs; a
    // leftover (or a link planted there) is removed, never followed.
    if (::unlink(temp.c_str()) < 0 && errno != ENOENT)
    {
        throwErrno("unlink " + temp);
    }
    UniqueFd fd(::open(temp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0644));
    if (!fd)
    {
        throwErrno("open " + temp);
    }
    writeAll(fd.get(), text, temp);
    fd.reset();
    // rename() replaces the file atomically: a process killed at any point
    // leaves the old or the new state. No fsync: the simulation models
    // process crashes, not power loss, and the page cache survives those.
    if (::rename(temp.c_str(), path.c_str()) < 0)
    {
        throwErrno("rename " + temp);
    }
    cached = StateStamp{model.instance, model.generation};
}

void SimStateStore::wipe()
{
    for (const std::string& path : {statePath(), ueventLogPath()})
    {
        if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        {
            throwErrno("unlink " + path);
        }
    }
    cached.reset();
}

std::string SimStateStore::newInstance()
{
    std::random_device random;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%08x%08x", random(), random());
    return buf;
}

} // namespace vfiod::sim
