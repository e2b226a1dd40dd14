#pragma once

#include "base/fd.hpp"
#include "base/pci_address.hpp"
#include "service/device_manager.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace vfiod::daemon
{

class MainLoop;

/** @brief The two ends of a new lease. */
struct LeaseEnds
{
    UniqueFd daemonEnd; ///< kept and watched by vfiod
    UniqueFd clientEnd; ///< returned by Assign
};

/**
 * @brief Creates a lease: a connected socket pair. When every copy of the
 * client end is closed, because the holder closed it or died, the daemon
 * end reports a hang-up. Close-on-exec, so that no helper vfiod spawns
 * (modprobe) keeps a lease alive.
 * @throws std::system_error
 */
LeaseEnds makeLease();

/**
 * @brief The assignments held through lease fds, and the watch on them.
 *
 * Main loop thread only. When a holder hangs up, the lease is closed and
 * onExpired runs with the device and the owner it was given to, so that
 * the release ends only that assignment.
 */
class LeaseTable
{
  public:
    using Expired = std::function<void(const PciAddress& address,
                                       const std::string& owner)>;

    LeaseTable(MainLoop& loop, Expired onExpired);
    ~LeaseTable();

    LeaseTable(const LeaseTable&) = delete;
    LeaseTable& operator=(const LeaseTable&) = delete;

    /** @brief Holds @p daemonEnd for @p owner; replaces an older lease,
     *  and ends the wait of a detached one. */
    void hold(const PciAddress& address, const std::string& owner,
              UniqueFd daemonEnd);

    /**
     * @brief An assignment that survived a restart of vfiod but whose
     * holder has not re-attached yet: unless hold() is called for it within
     * @p grace, it expires as a hang-up does.
     */
    void awaitReattach(const PciAddress& address, const std::string& owner,
                       std::chrono::milliseconds grace);

    /** @brief No lease held and none awaited. */
    bool empty() const noexcept
    {
        return leases.empty() && detached.empty();
    }

    /** @brief Whether the device's lease waits for its holder. */
    bool awaitsReattach(const PciAddress& address) const;

    /** @brief Closes the lease of the device, if any (Release). */
    void drop(const PciAddress& address);

    /**
     * @brief Closes a lease the device no longer backs: it is gone, or no
     * longer assigned to the lease's owner (released by root, say).
     */
    void reconcile(const PciAddress& address,
                   const std::optional<DeviceInfo>& info);

    /** @brief Whether the device has a lease (tests, debugging). */
    bool holds(const PciAddress& address) const;

  private:
    struct Lease
    {
        std::string owner;
        UniqueFd fd;
    };
    struct Detached
    {
        std::string owner;
        std::chrono::steady_clock::time_point deadline;
    };

    void onReadable(const PciAddress& address, short revents);
    void armTimer();
    void onTimer();

    MainLoop& loop;
    Expired onExpired;
    std::map<PciAddress, Lease> leases;
    std::map<PciAddress, Detached> detached;
    UniqueFd timer; ///< timerfd: the earliest re-attach deadline
};

} // namespace vfiod::daemon
