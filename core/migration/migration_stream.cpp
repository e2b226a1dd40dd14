#include "migration/migration_stream.hpp"

#include "base/error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>
#include <vector>

namespace vfiod::migration
{

namespace
{

[[noreturn]] void throwErrno(int error, const char* what)
{
    throw std::system_error(error, std::generic_category(), what);
}

bool isPipe(int fd)
{
    struct stat st
    {};
    return ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/**
 * @brief Blocks SIGPIPE on this thread and drops one raised meanwhile:
 * the write then fails with EPIPE, which the caller handles.
 */
class SigpipeGuard
{
  public:
    SigpipeGuard()
    {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, &old);
    }
    ~SigpipeGuard()
    {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        if (!sigismember(&old, SIGPIPE))
        {
            struct timespec zero
            {};
            while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE)
            {}
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  private:
    sigset_t old{};
};

/// How often a wait for the client looks at the cancel token.
constexpr std::chrono::milliseconds cancelSlice{50};

/**
 * @brief Waits until @p client's fd is ready for @p events.
 * @return false when @p cancel was cancelled meanwhile.
 * @throws Error(TimedOut) after client.idle without readiness.
 */
bool awaitClient(const ClientEnd& client, short events,
                 const CancelToken* cancel)
{
    using Clock = std::chrono::steady_clock;
    Clock::time_point deadline = Clock::now() + client.idle;
    for (;;)
    {
        if (cancel != nullptr && cancel->cancelled())
        {
            return false;
        }
        std::chrono::milliseconds slice = cancelSlice;
        if (client.idle.count() > 0)
        {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - Clock::now());
            if (left.count() <= 0)
            {
                fail(Errc::TimedOut, "the client moved no migration data for " +
                                         std::to_string(client.idle.count()) +
                                         " ms");
            }
            slice = std::min(slice, left);
        }
        pollfd entry{client.fd, events, 0};
        int n = ::poll(&entry, 1, static_cast<int>(slice.count()));
        if (n < 0 && errno != EINTR)
        {
            throwErrno(errno, "wait for migration data");
        }
        if (n > 0)
        {
            return true; // ready, hung up or failed: the next call tells
        }
    }
}

/**
 * @brief The waits of one copy: an operation on the client's end that
 * would block waits for it instead.
 */
class Waiter
{
  public:
    Waiter(const ClientEnd& client, const CancelToken* cancel) :
        client(client), cancel(cancel)
    {
        if (client.fd < 0)
        {
            return;
        }
        int flags = ::fcntl(client.fd, F_GETFL);
        if (flags < 0 || ::fcntl(client.fd, F_SETFL, flags | O_NONBLOCK) < 0)
        {
            throwErrno(errno, "make the migration stream non-blocking");
        }
    }

    /** @brief After EAGAIN on @p fd: false when cancelled meanwhile. */
    bool wait(int fd, short events) const
    {
        if (client.fd < 0 || fd != client.fd)
        {
            // Only the client's end is made non-blocking here.
            throwErrno(EAGAIN, "migration data");
        }
        return awaitClient(client, events, cancel);
    }

    int clientFd() const
    {
        return client.fd;
    }

    int spliceFlags() const
    {
        return client.fd >= 0 ? SPLICE_F_NONBLOCK : 0;
    }

  private:
    ClientEnd client;
    const CancelToken* cancel;
};

/** @brief false when cancelled while waiting for the client. */
bool writeAll(int out, const char* data, size_t size, const Waiter& waiter)
{
    while (size > 0)
    {
        ssize_t n = ::write(out, data, size);
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            if (errno == EAGAIN)
            {
                if (!waiter.wait(out, POLLOUT))
                {
                    return false;
                }
                continue;
            }
            throwErrno(errno, "write migration data");
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

/// spliceChunk(): this pair cannot splice, no pre-copy data, cancelled.
constexpr ssize_t cannotSplice = -1;
constexpr ssize_t noMessage = -2;
constexpr ssize_t cancelledWaiting = -3;

/** @brief One chunk by splice: >0 bytes, 0 end, or one of the above. */
ssize_t spliceChunk(int in, int out, size_t chunk, const Waiter& waiter)
{
    for (;;)
    {
        ssize_t n = ::splice(in, nullptr, out, nullptr, chunk,
                             SPLICE_F_MOVE |
                                 static_cast<unsigned>(waiter.spliceFlags()));
        if (n >= 0)
        {
            return n;
        }
        if (errno == EINTR)
        {
            continue;
        }
        if (errno == EAGAIN)
        {
            // SPLICE_F_NONBLOCK only ever applies to the client's end.
            int fd = waiter.clientFd();
            if (!waiter.wait(fd, fd == in ? POLLIN : POLLOUT))
            {
                return cancelledWaiting;
            }
            continue;
        }
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
        {
            return cannotSplice; // this pair of files: read/write
        }
        if (errno == ENOMSG)
        {
            return noMessage;
        }
        throwErrno(errno, "splice migration data");
    }
}

} // namespace

CopyResult copyStream(int in, int out, size_t chunk, const CancelToken* cancel,
                      const std::function<void(uint64_t)>& onChunk,
                      const ClientEnd& client)
{
    SigpipeGuard guard;
    Waiter waiter(client, cancel);
    CopyResult result;
    auto cancelled = [&] {
        result.end = CopyEnd::Cancelled;
        return result;
    };
    bool splicing = isPipe(in) || isPipe(out);
    std::vector<char> buffer;
    for (;;)
    {
        if (cancel != nullptr && cancel->cancelled())
        {
            return cancelled();
        }
        ssize_t n = -1;
        if (splicing)
        {
            n = spliceChunk(in, out, chunk, waiter);
            if (n == noMessage)
            {
                result.end = CopyEnd::NoMessage;
                return result;
            }
            if (n == cancelledWaiting)
            {
                return cancelled();
            }
            splicing = n >= 0;
        }
        if (!splicing)
        {
            buffer.resize(chunk);
            n = ::read(in, buffer.data(), chunk);
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n < 0 && errno == EAGAIN)
            {
                if (!waiter.wait(in, POLLIN))
                {
                    return cancelled();
                }
                continue;
            }
            if (n < 0 && errno == ENOMSG)
            {
                result.end = CopyEnd::NoMessage;
                return result;
            }
            if (n < 0)
            {
                throwErrno(errno, "read migration data");
            }
            if (!writeAll(out, buffer.data(), static_cast<size_t>(n), waiter))
            {
                return cancelled();
            }
        }
        if (n == 0)
        {
            result.end = CopyEnd::EndOfStream;
            return result;
        }
        result.bytes += static_cast<uint64_t>(n);
        if (onChunk)
        {
            onChunk(static_cast<uint64_t>(n));
        }
    }
}

} // namespace vfiod::migration
