#include "child_process.hpp"

#include "cli_error.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vfioctl
{

pid_t spawnCommand(const std::vector<std::string>& argv,
                   const sigset_t& childMask)
{
    // Built before fork so the child only calls exec, write and _exit.
    std::vector<char*> args;
    for (const auto& arg : argv)
    {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0)
    {
        throw CliError(ExitCode::failed,
                       std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0)
    {
        sigprocmask(SIG_SETMASK, &childMask, nullptr);
        ::execvp(args[0], args.data());
        int error = errno;
        std::string message =
            "vfioctl: " + argv[0] + ": " + std::strerror(error) + "\n";
        (void)!::write(STDERR_FILENO, message.data(), message.size());
        ::_exit(error == ENOENT ? 127 : 126);
    }
    return pid;
}

int shellStatus(int waitStatus) noexcept
{
    if (WIFEXITED(waitStatus))
    {
        return WEXITSTATUS(waitStatus);
    }
    if (WIFSIGNALED(waitStatus))
    {
        return 128 + WTERMSIG(waitStatus);
    }
    return 1;
}

} // namespace vfioctl
