#pragma once

#include "device_manager.hpp"
#include "fd.hpp"
#include "pci_address.hpp"

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

    /** @brief Holds @p daemonEnd for @p owner; replaces an older lease. */
    void hold(const PciAddress& address, const std::string& owner,
              UniqueFd daemonEnd);

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

    void onReadable(const PciAddress& address, short revents);

    MainLoop& loop;
    Expired onExpired;
    std::map<PciAddress, Lease> leases;
};

} // namespace vfiod::daemon
