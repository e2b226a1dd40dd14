#include "linux/linux_host.hpp"

#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/path_wait.hpp"
#include "base/process.hpp"
#include "kernel/sysfs_layout.hpp"
#include "linux/udev_uevent_source.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace vfiod
{

namespace
{

constexpr std::string_view defaultModulesRoot = "/lib/modules";

[[noreturn]] void throwErrno(int error, const std::string& what)
{
    throw std::system_error(error, std::generic_category(), what);
}

/**
 * @brief Refuses a path that could leave its root. Callers build paths
 * from validated parts (sysfs_layout.hpp), so this only catches bugs.
 */
void checkRelative(const std::string& path)
{
    bool bad = path.starts_with('/') || path.find('\0') != std::string::npos;
    size_t start = 0;
    while (!bad && start <= path.size())
    {
        size_t slash = path.find('/', start);
        size_t end = slash == std::string::npos ? path.size() : slash;
        bad = path.compare(start, end - start, "..") == 0;
        start = end + 1;
    }
    if (bad)
    {
        fail(Errc::InvalidArgument, "refusing path \"" +
                                        path.substr(0, path.find('\0')) +
                                        "\": it must stay below its root");
    }
}

std::string join(const std::string& root, const std::string& path)
{
    checkRelative(path);
    return path.empty() ? root : root + "/" + path;
}

/** @brief The whole file, or nullopt when it does not exist. */
std::optional<std::string> readWholeFile(const std::string& path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
    {
        if (errno == ENOENT)
        {
            return std::nullopt;
        }
        throwErrno(errno, "read " + path);
    }
    // Loop to EOF: text attributes come in one read, but binary ones such
    // as config (up to 4 KiB) may take several.
    std::string text;
    char buffer[4096];
    for (;;)
    {
        ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno(errno, "read " + path);
        }
        if (n == 0)
        {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
    }
}

/**
 * @brief Plain files in a test tree must be overwritten like an attribute
 * is; real sysfs attributes must not be truncated (that is a separate store
 * to the kernel), and FIFOs cannot be.
 */
void truncateIfPlainFile(int fd, const std::string& path)
{
    struct stat st;
    if (::fstat(fd, &st) < 0)
    {
        throwErrno(errno, "write " + path);
    }
    if (!S_ISREG(st.st_mode))
    {
        return;
    }
    struct statfs fs;
    if (::fstatfs(fd, &fs) < 0)
    {
        throwErrno(errno, "write " + path);
    }
    if (fs.f_type != SYSFS_MAGIC && ::ftruncate(fd, 0) < 0)
    {
        throwErrno(errno, "write " + path);
    }
}

std::string runningRelease()
{
    utsname uts{};
    if (::uname(&uts) < 0)
    {
        throwErrno(errno, "uname");
    }
    return uts.release;
}

std::string firstLine(const std::string& text)
{
    std::string line = sysfs::trim(text.substr(0, text.find('\n')));
    return line.empty() ? "no message" : line;
}

} // namespace

LinuxHost::LinuxHost(LinuxRoots roots) : linuxRoots(std::move(roots)) {}

std::string LinuxHost::sysPath(const std::string& path) const
{
    return join(linuxRoots.sysfs, path);
}

std::string LinuxHost::devPath(const std::string& path) const
{
    return join(linuxRoots.dev, path);
}

std::optional<std::string> LinuxHost::read(const std::string& path)
{
    return readWholeFile(sysPath(path));
}

void LinuxHost::write(const std::string& path, std::string_view value)
{
    const std::string full = sysPath(path);
    // No O_CREAT: writing an attribute that does not exist is ENOENT, as
    // on sysfs. No O_NONBLOCK: the kernel may block (unbind), so may we.
    int raw = -1;
    do
    {
        raw = ::open(full.c_str(), O_WRONLY | O_CLOEXEC);
    } while (raw < 0 && errno == EINTR);
    UniqueFd fd(raw);
    if (!fd)
    {
        throwErrno(errno, "write " + full);
    }
    truncateIfPlainFile(fd.get(), full);

    // One write(2): a sysfs store sees exactly one buffer, so splitting the
    // value would make the kernel parse two halves.
    ssize_t n = -1;
    do
    {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
    {
        throwErrno(errno, "write " + full);
    }
    if (static_cast<size_t>(n) != value.size())
    {
        throwErrno(EIO, "write " + full + ": short write of " +
                            std::to_string(n) + " of " +
                            std::to_string(value.size()) + " bytes");
    }
}

std::optional<std::string> LinuxHost::readLinkName(const std::string& path)
{
    const std::string full = sysPath(path);
    char target[PATH_MAX];
    ssize_t n = ::readlink(full.c_str(), target, sizeof(target));
    if (n < 0)
    {
        if (errno == ENOENT || errno == EINVAL || errno == ENOTDIR)
        {
            return std::nullopt;
        }
        throwErrno(errno, "readlink " + full);
    }
    std::string_view link(target, static_cast<size_t>(n));
    while (link.size() > 1 && link.ends_with('/'))
    {
        link.remove_suffix(1);
    }
    size_t slash = link.rfind('/');
    return std::string(
        slash == std::string_view::npos ? link : link.substr(slash + 1));
}

std::vector<std::string> LinuxHost::list(const std::string& path)
{
    const std::string full = sysPath(path);
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(full.c_str()),
                                            ::closedir);
    if (!dir)
    {
        if (errno == ENOENT || errno == ENOTDIR)
        {
            return {};
        }
        throwErrno(errno, "list " + full);
    }
    std::vector<std::string> names;
    for (;;)
    {
        errno = 0;
        const dirent* entry = ::readdir(dir.get());
        if (entry == nullptr)
        {
            if (errno != 0)
            {
                throwErrno(errno, "list " + full);
            }
            break;
        }
        std::string_view name = entry->d_name;
        if (name != "." && name != "..")
        {
            names.emplace_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool LinuxHost::exists(const std::string& path)
{
    const std::string full = sysPath(path);
    // stat, not lstat: a link such as "driver" counts when its target does.
    struct stat st;
    if (::stat(full.c_str(), &st) == 0)
    {
        return true;
    }
    if (errno == ENOENT || errno == ENOTDIR)
    {
        return false;
    }
    throwErrno(errno, "stat " + full);
}

void LinuxHost::modprobe(const std::string& module)
{
    if (!sysfs::isValidDriverName(module))
    {
        fail(Errc::InvalidArgument, "invalid module name \"" + module + "\"");
    }

    // modprobe only knows "-d DIR", meaning DIR/lib/modules/<release>, so a
    // custom modules root must end in /lib/modules. The defaults add no
    // options, which keeps the command line what an admin would type.
    std::vector<std::string> argv{linuxRoots.modprobe, "-q"};
    if (linuxRoots.modules != defaultModulesRoot)
    {
        std::string_view modules = linuxRoots.modules;
        if (!modules.ends_with(defaultModulesRoot))
        {
            fail(Errc::InvalidArgument,
                 "cannot run modprobe with modules root " + linuxRoots.modules +
                     ": it must end in /lib/modules");
        }
        modules.remove_suffix(defaultModulesRoot.size());
        argv.emplace_back("-d");
        argv.emplace_back(modules.empty() ? "/" : std::string(modules));
    }
    if (!linuxRoots.kernelRelease.empty())
    {
        argv.emplace_back("-S");
        argv.push_back(linuxRoots.kernelRelease);
    }
    argv.emplace_back("--");
    argv.push_back(module);

    ProcessResult result;
    try
    {
        result = runProcess(argv);
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed, "modprobe " + module + " failed: " + e.what());
    }
    if (result.exitStatus == 0)
    {
        return;
    }
    // With -q modprobe prints nothing for a module that does not exist and
    // still reports every other failure, so silence means "not found".
    if (result.exitStatus > 0 && sysfs::trim(result.standardError).empty())
    {
        fail(Errc::NotFound,
             "modprobe " + module + " failed: no such kernel module");
    }
    fail(Errc::Failed,
         "modprobe " + module + " failed: " + firstLine(result.standardError));
}

std::string LinuxHost::modulesAlias()
{
    std::string release = linuxRoots.kernelRelease.empty()
                              ? runningRelease()
                              : linuxRoots.kernelRelease;
    // One path component: the release names a directory below modules.
    if (release.empty() || release == ".." ||
        release.find_first_of(std::string_view("/\0", 2)) != std::string::npos)
    {
        fail(Errc::InvalidArgument,
             "invalid kernel release \"" + release + "\"");
    }
    return readWholeFile(linuxRoots.modules + "/" + release + "/modules.alias")
        .value_or("");
}

bool LinuxHost::devNodeExists(const std::string& path)
{
    struct stat st;
    return ::stat(devPath(path).c_str(), &st) == 0;
}

bool LinuxHost::waitDevNode(const std::string& path,
                            std::chrono::milliseconds timeout)
{
    checkRelative(path);
    return waitForPath(linuxRoots.dev, path, timeout);
}

std::unique_ptr<UeventSource> LinuxHost::openUevents()
{
    return std::make_unique<UdevUeventSource>();
}

} // namespace vfiod
