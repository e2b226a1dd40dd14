#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vfiod::migration
{

/**
 * @brief Cancels a save, load or migrate between two chunks. A token may
 * have a parent whose cancellation it follows (migrate links the halves).
 */
class CancelToken
{
  public:
    CancelToken() = default;
    explicit CancelToken(const CancelToken* parent) : parent(parent) {}

    void cancel() noexcept
    {
        flag.store(true);
    }
    bool cancelled() const noexcept
    {
        return flag.load() || (parent != nullptr && parent->cancelled());
    }

  private:
    std::atomic<bool> flag{false};
    const CancelToken* parent = nullptr;
};

/** @brief Where a long operation is, for the Progress the bus reports. */
struct Progress
{
    std::string phase;  ///< "pre-copy", "stop-copy", "resume"
    uint64_t bytes = 0; ///< moved so far in the whole operation
};

using ProgressCallback = std::function<void(const Progress&)>;

/** @brief How a copy ended. */
enum class CopyEnd
{
    EndOfStream, ///< read() gave 0
    NoMessage,   ///< ENOMSG: no pre-copy data available right now
    Cancelled,
};

struct CopyResult
{
    uint64_t bytes = 0;
    CopyEnd end = CopyEnd::EndOfStream;
};

/**
 * @brief The end of a stream that a client feeds or drains: it is put in
 * non-blocking mode and waited for with poll(2), so that a client that
 * stops moving data can neither hold the thread forever nor delay a
 * cancellation.
 */
struct ClientEnd
{
    int fd = -1; ///< in or out of the copy; -1: both are vfiod's own
    /// No data moved for this long fails the copy (TimedOut); 0: no limit.
    std::chrono::milliseconds idle{0};
};

/**
 * @brief Moves bytes from @p in to @p out in chunks of @p chunk, with
 * splice(2) when one side is a pipe and the kernel can splice the other
 * (falling back to read/write when it cannot, as VFIO data fds cannot),
 * checking @p cancel between chunks and calling @p onChunk with each
 * chunk's size. SIGPIPE is blocked on the calling thread meanwhile, so a
 * reader that went away is an EPIPE error, not a dead daemon. While
 * waiting for @p client, @p cancel is checked every 50 ms.
 * @throws std::system_error for a read or write error other than ENOMSG,
 *         Error(TimedOut) when the client moved nothing for client.idle.
 */
CopyResult copyStream(int in, int out, size_t chunk, const CancelToken* cancel,
                      const std::function<void(uint64_t)>& onChunk,
                      const ClientEnd& client = {});

} // namespace vfiod::migration
