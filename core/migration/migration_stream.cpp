#include "migration/migration_stream.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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

void writeAll(int out, const char* data, size_t size)
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
            throwErrno(errno, "write migration data");
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
}

/** @brief One chunk by splice: >0 bytes, 0 end, -1 cannot splice. */
ssize_t spliceChunk(int in, int out, size_t chunk)
{
    for (;;)
    {
        ssize_t n = ::splice(in, nullptr, out, nullptr, chunk, SPLICE_F_MOVE);
        if (n >= 0)
        {
            return n;
        }
        if (errno == EINTR)
        {
            continue;
        }
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
        {
            return -1; // this pair of files cannot splice: read/write
        }
        if (errno == ENOMSG)
        {
            return -2;
        }
        throwErrno(errno, "splice migration data");
    }
}

} // namespace

CopyResult copyStream(int in, int out, size_t chunk, const CancelToken* cancel,
                      const std::function<void(uint64_t)>& onChunk)
{
    SigpipeGuard guard;
    CopyResult result;
    bool splicing = isPipe(in) || isPipe(out);
    std::vector<char> buffer;
    for (;;)
    {
        if (cancel != nullptr && cancel->cancelled())
        {
            result.end = CopyEnd::Cancelled;
            return result;
        }
        ssize_t n = -1;
        if (splicing)
        {
            n = spliceChunk(in, out, chunk);
            if (n == -2)
            {
                result.end = CopyEnd::NoMessage;
                return result;
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
            if (n < 0 && errno == ENOMSG)
            {
                result.end = CopyEnd::NoMessage;
                return result;
            }
            if (n < 0)
            {
                throwErrno(errno, "read migration data");
            }
            writeAll(out, buffer.data(), static_cast<size_t>(n));
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
