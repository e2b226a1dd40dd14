#include "test_support.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace vfiod::test
{

std::string requiredEnv(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
    {
        throw std::runtime_error(std::string(name) +
                                 " is not set: run the tests with meson test");
    }
    return value;
}

void writeFile(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out)
    {
        throw std::runtime_error("cannot write " + path);
    }
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void waitFor(const std::function<bool()>& done)
{
    waitFor(done, [] { return false; });
}

bool waitFor(const std::function<bool()>& done,
             const std::function<bool()>& stop)
{
    while (!done())
    {
        if (stop())
        {
            // One last look: the state may have come with the stop.
            return done();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void waitReadable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0)
    {
        if (errno != EINTR)
        {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
    }
}

pid_t threadId()
{
    return ::gettid();
}

void waitUntilBlockedIn(pid_t tid, std::initializer_list<long> syscalls)
{
    std::string task = "/proc/self/task/" + std::to_string(tid);
    for (;;)
    {
        std::string stat = readFile(task + "/stat");
        std::string call = readFile(task + "/syscall");
        if (stat.empty())
        {
            throw std::runtime_error("thread " + std::to_string(tid) +
                                     " is gone");
        }
        // "TID (COMM) STATE ...": COMM may hold anything but a ')' last.
        size_t close = stat.rfind(')');
        char state = close + 2 < stat.size() ? stat[close + 2] : '?';
        // "NUMBER ARGS..." while in a system call, "running" otherwise.
        long number = -1;
        try
        {
            number = std::stol(call);
        }
        catch (const std::exception&)
        {}
        if (state == 'S')
        {
            for (long wanted : syscalls)
            {
                if (number == wanted)
                {
                    return;
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

TempDir::TempDir()
{
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/vfiod-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
    {
        throw std::system_error(errno, std::generic_category(),
                                "mkdtemp " + pattern);
    }
    dir = pattern;
    // Reachable by the unprivileged test user (nobody) of the D-Bus tests.
    ::chmod(dir.c_str(), 0755);
}

TempDir::~TempDir()
{
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

std::string TempDir::write(const std::string& name,
                           const std::string& text) const
{
    std::string file = *this / name;
    writeFile(file, text);
    return file;
}

} // namespace vfiod::test
