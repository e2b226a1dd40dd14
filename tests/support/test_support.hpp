#pragma once

// Small helpers every C++ test may use (tests/support/meson.build:
// test_support_dep). One definition each, here.

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <string>

namespace vfiod::test
{

/** @brief An environment variable the test needs (meson test sets it);
 * throws, naming it, when it is unset or empty. */
std::string requiredEnv(const char* name);

/** @brief Writes @p text to @p path (truncating); throws on failure. */
void writeFile(const std::string& path, const std::string& text);

/** @brief The whole file; empty when it cannot be read. */
std::string readFile(const std::string& path);

/**
 * @brief Polls @p done until it holds. Only for a state nothing announces:
 * wait for an event where there is one. There is no time bound: a test
 * that hangs is ended by meson's per-test timeout, never failed for being
 * slow.
 */
void waitFor(const std::function<bool()>& done);

/**
 * @brief Polls @p done until it holds (true) or @p stop does (false), e.g.
 * the process that should bring the state about has exited. No time bound.
 */
bool waitFor(const std::function<bool()>& done,
             const std::function<bool()>& stop);

/** @brief Blocks until @p fd is readable (poll, no time bound). */
void waitReadable(int fd);

/** @brief The calling thread's id (gettid), for waitUntilBlockedIn. */
pid_t threadId();

/**
 * @brief Waits until thread @p tid of this process sleeps in one of
 * @p syscalls (numbers from <sys/syscall.h>), as /proc/self/task/TID shows:
 * the call it makes has reached its blocking point (a FIFO's open waiting
 * for a reader, an inotify poll). Polls, since the kernel announces no
 * such thing; no time bound. Throws when the thread is gone.
 */
void waitUntilBlockedIn(pid_t tid, std::initializer_list<long> syscalls);

/** @brief A fresh directory under $TMPDIR (or /tmp), mode 0755 so that an
 * unprivileged test user may reach it, removed with its contents. */
class TempDir
{
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const noexcept
    {
        return dir;
    }

    /** @brief The path of @p name in the directory. */
    std::string operator/(const std::string& name) const
    {
        return dir + "/" + name;
    }

    /** @brief Writes @p name in the directory and returns its path. */
    std::string write(const std::string& name, const std::string& text) const;

  private:
    std::string dir;
};

} // namespace vfiod::test
