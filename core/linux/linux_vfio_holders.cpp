// Who holds a VFIO node open: the fd links of every process under
// /proc, as fuser and lsof find them. The kernel keeps no list of a
// group's openers that user space could ask for.
#include "base/fd.hpp"
#include "linux/linux_host.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

namespace
{

bool isPid(const char* name)
{
    if (*name == '\0')
    {
        return false;
    }
    for (const char* c = name; *c != '\0'; ++c)
    {
        if (*c < '0' || *c > '9')
        {
            return false;
        }
    }
    return true;
}

/** @brief The first line of PROC/PID/comm, read through the pid dir. */
std::string commandOf(int pidDir)
{
    UniqueFd fd(::openat(pidDir, "comm", O_RDONLY | O_CLOEXEC));
    if (!fd)
    {
        return "?";
    }
    char text[64];
    ssize_t n = ::read(fd.get(), text, sizeof text - 1);
    if (n <= 0)
    {
        return "?";
    }
    std::string_view comm(text, static_cast<size_t>(n));
    comm = comm.substr(0, comm.find('\n'));
    return std::string(comm);
}

struct DirCloser
{
    void operator()(DIR* dir) const noexcept
    {
        ::closedir(dir);
    }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

/** @brief The VFIO nodes among the fd links of one process. */
void scanProcess(int procDir, const char* pid, const std::string& vfioPrefix,
                 std::vector<VfioHolder>& holders)
{
    UniqueFd pidDir(::openat(procDir, pid, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pidDir)
    {
        return; // exited meanwhile
    }
    int fdDirFd =
        ::openat(pidDir.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fdDirFd < 0)
    {
        return; // not ours to read, or exited
    }
    UniqueDir fds(::fdopendir(fdDirFd));
    if (!fds)
    {
        ::close(fdDirFd);
        return;
    }
    std::string command;
    std::vector<std::string> seen;
    while (const dirent* entry = ::readdir(fds.get()))
    {
        if (entry->d_name[0] == '.')
        {
            continue;
        }
        char target[PATH_MAX];
        ssize_t n = ::readlinkat(::dirfd(fds.get()), entry->d_name, target,
                                 sizeof target);
        if (n <= 0 || static_cast<size_t>(n) >= sizeof target)
        {
            continue;
        }
        std::string_view link(target, static_cast<size_t>(n));
        if (link.substr(0, vfioPrefix.size()) != vfioPrefix)
        {
            continue;
        }
        std::string node(link.substr(vfioPrefix.size() - 5)); // "vfio/..."
        if (node == "vfio/vfio" ||
            std::find(seen.begin(), seen.end(), node) != seen.end())
        {
            continue; // the container, or a second fd on the same node
        }
        seen.push_back(node);
        if (command.empty())
        {
            command = commandOf(pidDir.get());
        }
        holders.push_back({std::stoi(pid), command, node});
    }
}

} // namespace

std::vector<VfioHolder> LinuxHost::vfioHolders()
{
    std::vector<VfioHolder> holders;
    UniqueFd procDir(
        ::open(linuxRoots.proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!procDir)
    {
        return holders;
    }
    int listFd = ::dup(procDir.get());
    UniqueDir processes(listFd >= 0 ? ::fdopendir(listFd) : nullptr);
    if (!processes)
    {
        if (listFd >= 0)
        {
            ::close(listFd);
        }
        return holders;
    }
    const std::string self = std::to_string(::getpid());
    const std::string vfioPrefix = linuxRoots.dev + "/vfio/";
    while (const dirent* entry = ::readdir(processes.get()))
    {
        if (isPid(entry->d_name) && entry->d_name != self)
        {
            scanProcess(procDir.get(), entry->d_name, vfioPrefix, holders);
        }
    }
    return holders;
}

} // namespace vfiod
