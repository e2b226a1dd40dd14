#include "base/path_wait.hpp"

#include "base/fd.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace vfiod
{

namespace
{

using Clock = std::chrono::steady_clock;

bool pathExists(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/** @brief The longest existing directory among root, root/a, root/a/b... */
std::string deepestExistingDir(const std::string& root,
                               const std::string& relative)
{
    std::string deepest = root;
    std::string current = root;
    size_t start = 0;
    for (;;)
    {
        size_t slash = relative.find('/', start);
        if (slash == std::string::npos)
        {
            // The last component is the node itself, not a directory.
            return deepest;
        }
        current += "/" + relative.substr(start, slash - start);
        if (!isDirectory(current))
        {
            return deepest;
        }
        deepest = current;
        start = slash + 1;
    }
}

/**
 * @brief Consumes pending inotify events.
 * @return false when the kernel dropped a watch (its directory went away),
 * so the caller must set it up again.
 */
bool drainEvents(int fd)
{
    bool watchAlive = true;
    alignas(inotify_event) char buffer[4096];
    for (;;)
    {
        ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            return watchAlive;
        }
        for (ssize_t offset = 0; offset < n;)
        {
            const auto* event =
                reinterpret_cast<const inotify_event*>(buffer + offset);
            if ((event->mask & IN_IGNORED) != 0)
            {
                watchAlive = false;
            }
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
}

int remainingMs(Clock::time_point deadline)
{
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
    {
        return 0;
    }
    return static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

} // namespace

bool waitForPath(const std::string& root, const std::string& relative,
                 std::chrono::milliseconds timeout)
{
    const std::string target = root + "/" + relative;
    const Clock::time_point deadline = Clock::now() + timeout;

    UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify)
    {
        throw std::system_error(errno, std::generic_category(),
                                "inotify_init1");
    }

    std::string watched;
    for (;;)
    {
        if (pathExists(target))
        {
            return true;
        }
        std::string dir = deepestExistingDir(root, relative);
        if (dir != watched)
        {
            constexpr uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR |
                                      IN_DELETE_SELF | IN_MOVE_SELF;
            if (::inotify_add_watch(inotify.get(), dir.c_str(), mask) < 0)
            {
                if (errno == ENOENT || errno == ENOTDIR)
                {
                    continue; // removed meanwhile: look again
                }
                throw std::system_error(errno, std::generic_category(),
                                        "inotify_add_watch " + dir);
            }
            watched = dir;
            // The node may have appeared before the watch was in place.
            continue;
        }

        int wait = remainingMs(deadline);
        if (wait == 0)
        {
            return false;
        }
        pollfd pfd{inotify.get(), POLLIN, 0};
        int rc = ::poll(&pfd, 1, wait);
        if (rc < 0 && errno != EINTR)
        {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (rc > 0 && !drainEvents(inotify.get()))
        {
            watched.clear();
        }
    }
}

} // namespace vfiod
