#include "base/process.hpp"

#include "base/fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

extern char** environ;

namespace vfiod
{

namespace
{

constexpr size_t maxCapturedStderr = 64 * 1024;

/** @brief posix_spawn file actions that are destroyed on every path. */
class SpawnActions
{
  public:
    SpawnActions()
    {
        int rc = posix_spawn_file_actions_init(&actions);
        if (rc != 0)
        {
            throw std::system_error(rc, std::generic_category(),
                                    "posix_spawn_file_actions_init");
        }
    }
    ~SpawnActions()
    {
        posix_spawn_file_actions_destroy(&actions);
    }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;

    void check(int rc, const char* what)
    {
        if (rc != 0)
        {
            throw std::system_error(rc, std::generic_category(), what);
        }
    }

    posix_spawn_file_actions_t actions{};
};

std::string readAll(int fd)
{
    std::string text;
    char buffer[4096];
    for (;;)
    {
        ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            // A read error on our own pipe only loses diagnostics; the exit
            // status still tells the caller what happened.
            return text;
        }
        // Keep draining past the cap so that the child never blocks on a
        // full pipe.
        size_t room =
            maxCapturedStderr - std::min(text.size(), maxCapturedStderr);
        text.append(buffer, std::min(room, static_cast<size_t>(n)));
    }
}

int waitForExit(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
    {
        if (errno != EINTR)
        {
            throw std::system_error(errno, std::generic_category(), "waitpid");
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

namespace
{

ProcessResult spawnAndWait(const std::vector<std::string>& argv,
                           bool captureStdout);

} // namespace

ProcessResult runProcess(const std::vector<std::string>& argv)
{
    return spawnAndWait(argv, false);
}

ProcessResult runProcessWithOutput(const std::vector<std::string>& argv)
{
    return spawnAndWait(argv, true);
}

namespace
{

ProcessResult spawnAndWait(const std::vector<std::string>& argv,
                           bool captureStdout)
{
    if (argv.empty())
    {
        throw std::system_error(EINVAL, std::generic_category(),
                                "runProcess: empty argv");
    }

    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) < 0)
    {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    UniqueFd readEnd(pipeFds[0]);
    UniqueFd writeEnd(pipeFds[1]);

    SpawnActions spawn;
    spawn.check(posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null",
                                                 O_RDONLY, 0),
                "posix_spawn_file_actions_addopen");
    spawn.check(captureStdout
                    ? posix_spawn_file_actions_adddup2(&spawn.actions,
                                                       writeEnd.get(), 1)
                    : posix_spawn_file_actions_addopen(
                          &spawn.actions, 1, "/dev/null", O_WRONLY, 0),
                "posix_spawn_file_actions stdout");
    spawn.check(
        posix_spawn_file_actions_adddup2(&spawn.actions, writeEnd.get(), 2),
        "posix_spawn_file_actions_adddup2");
    // Other threads may hold descriptors without O_CLOEXEC; the child must
    // not keep any of them (a kept vfio group fd would block an unbind).
    spawn.check(posix_spawn_file_actions_addclosefrom_np(&spawn.actions, 3),
                "posix_spawn_file_actions_addclosefrom_np");

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv)
    {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);

    // The daemon blocks its signals to read them from a signalfd; the
    // child must start with an empty mask and default dispositions.
    posix_spawnattr_t attr;
    spawn.check(posix_spawnattr_init(&attr), "posix_spawnattr_init");
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0].c_str(), &spawn.actions, &attr,
                           args.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
    {
        throw std::system_error(rc, std::generic_category(),
                                "cannot run " + argv[0]);
    }
    // Our copy of the write end must go, or the read below never sees EOF.
    writeEnd.reset();

    ProcessResult result;
    result.standardError = readAll(readEnd.get());
    result.exitStatus = waitForExit(pid);
    return result;
}

} // namespace

} // namespace vfiod
