#pragma once

#include "base/error.hpp"
#include "base/fd.hpp"
#include "kernel/migration_fsm.hpp"
#include "migration/migration_stream.hpp"

#include <optional>
#include <string>
#include <vector>

namespace vfiod
{

class PluginDevice;

namespace migration
{

/**
 * @brief A failed transition or stream: the Error (its code maps to the
 * bus as usual) plus the state the device was left in after recovery, and
 * whether it was a cancellation.
 */
class MigrationFailure : public Error
{
  public:
    MigrationFailure(Errc code, const std::string& message, State leftIn,
                     bool cancelled) :
        Error(code, message),
        left(leftIn), wasCancelled(cancelled)
    {}

    State leftIn() const noexcept
    {
        return left;
    }
    bool cancelled() const noexcept
    {
        return wasCancelled;
    }

  private:
    State left;
    bool wasCancelled;
};

struct StreamOptions
{
    const CancelToken* cancel = nullptr;
    ProgressCallback progress;
    /// Pre-copy rounds before stop-copy, on devices with PRE_COPY; a round
    /// reads what VFIO_MIG_GET_PRECOPY_INFO announces, until ENOMSG.
    unsigned maxPrecopyRounds = 8;
    /// The stream's end that the client feeds (load) or drains (save):
    /// waited for with a time limit (ClientEnd); -1 for none (migrate).
    int clientFd = -1;
    /// How long the client may move no data before the stream fails with
    /// TimedOut and the device is walked back; 0: no limit.
    std::chrono::milliseconds idleTimeout{0};
};

/**
 * @brief Drives one device's migration through its plugin, one arc at a
 * time, as QEMU's hw/vfio/migration.c drives a VFIO device.
 *
 * Failure handling follows QEMU: when an arc, a read or a write fails, the
 * device is walked back to RUNNING, and reset (plugin reset op) when that
 * fails too or it is in ERROR. The MigrationFailure thrown says which state
 * it is in then. A request the state machine refuses (migration::walk)
 * reaches neither the plugin nor the kernel, and changes nothing.
 *
 * Not thread-safe: one operation per device at a time (the daemon's
 * per-device job queue guarantees that).
 */
class MigrationEngine
{
  public:
    explicit MigrationEngine(PluginDevice& device);

    /** @throws Error(NotSupported) when the plugin cannot migrate it. */
    Flags flags();

    /** @brief From the plugin's get_state, else as this engine left it. */
    State state();

    /**
     * @brief Walks to @p target.
     * @return the states passed through, in order, @p target last ([] when
     *         already there).
     * @throws Error(InvalidArgument) for a refused request (nothing
     *         changed), MigrationFailure when an arc failed.
     */
    std::vector<State> setState(State target);

    /**
     * @brief Streams the device state into @p sinkFd: pre-copy rounds
     * where supported (from RUNNING), then stop-copy to the end of the
     * stream. Ends in STOP: the state now lives in the stream.
     * A cancelled or failed save returns the device to RUNNING.
     */
    void save(int sinkFd, const StreamOptions& options = {});

    /**
     * @brief Resumes the device from @p sourceFd (read to its end): to
     * RESUMING, the data, then RUNNING (RESUMING -> STOP is where the
     * device checks what it got). A cancelled or failed load returns the
     * device to RUNNING, with a reset if needed.
     */
    void load(int sourceFd, const StreamOptions& options = {});

  private:
    UniqueFd step(State next);
    std::vector<State> walkTo(State target, UniqueFd* dataFd);
    [[noreturn]] void failAndRecover(const Error& cause, bool cancelled);
    [[noreturn]] void failStream(const std::exception& cause);
    /** @brief copyStream with the options' cancellation and client end,
     *  failing (and recovering) on an error, after closing @p closeFirst. */
    CopyResult copy(int in, int out, size_t chunk, const StreamOptions& options,
                    const std::function<void(uint64_t)>& onChunk,
                    UniqueFd* closeFirst = nullptr);
    State recover();
    size_t chunkSize();
    void precopyRounds(int dataFd, int sinkFd, const StreamOptions& options,
                       uint64_t& total);

    PluginDevice& device;
    std::optional<Flags> cachedFlags;
    State current = State::Running;
};

/**
 * @brief Moves the state of @p source into @p target on this host: a save
 * and a load joined by a pipe, concurrently. Ends with @p source in STOP
 * and @p target in RUNNING; on failure both are back in RUNNING.
 * @throws the first failure (MigrationFailure or Error).
 */
void migrate(MigrationEngine& source, MigrationEngine& target,
             const StreamOptions& options = {});

} // namespace migration
} // namespace vfiod
