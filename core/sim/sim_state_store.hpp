#pragma once

#include "base/fd.hpp"
#include "sim/sim_model.hpp"
#include "sim/sim_state_format.hpp"

#include <optional>
#include <string>

namespace vfiod::sim
{

/**
 * @brief The state directory: the state file, the lock that serialises
 * every process using it, and the uevent log's location.
 *
 * Not thread-safe: SimKernel guards it with its mutex, and the flock
 * guards it against other processes (and other SimHost instances, since
 * each one opens the lock file on its own).
 */
class SimStateStore
{
  public:
    /** @brief Creates the directory if missing and opens its lock file. */
    explicit SimStateStore(std::string dir);

    /** @brief Holds the lock file locked until destroyed. */
    class Lock
    {
      public:
        Lock(int fd, bool exclusive);
        ~Lock();
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;

      private:
        int fd;
    };

    [[nodiscard]] Lock lockExclusive() const
    {
        return Lock(lockFd.get(), true);
    }
    [[nodiscard]] Lock lockShared() const
    {
        return Lock(lockFd.get(), false);
    }

    /**
     * @brief Brings @p model up to date with the state file, reading the
     * file only when its header stamp changed since this store last read
     * or wrote it. Call with the lock held.
     * @return false when there is no state file yet.
     */
    bool refresh(Model& model);

    /**
     * @brief Writes @p model as the new state (bumping its generation).
     * Call with the exclusive lock held.
     */
    void save(Model& model);

    /** @brief Forgets the cached stamp, so the next refresh re-reads. */
    void invalidate() noexcept
    {
        cached.reset();
    }

    /** @brief Deletes the state and the uevent log (exclusive lock held). */
    void wipe();

    /** @brief A fresh random instance id for a new state. */
    static std::string newInstance();

    const std::string& dir() const noexcept
    {
        return directory;
    }
    std::string statePath() const
    {
        return directory + "/state";
    }
    std::string ueventLogPath() const
    {
        return directory + "/uevents";
    }

  private:
    std::string directory;
    UniqueFd lockFd;
    std::optional<StateStamp> cached;
};

} // namespace vfiod::sim
