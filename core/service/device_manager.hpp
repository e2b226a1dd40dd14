#pragma once

#include "base/error.hpp"
#include "base/pci_address.hpp"
#include "binding/driver_binder.hpp"
#include "binding/kernel_call.hpp"
#include "config/daemon_config.hpp"
#include "kernel/kernel_host.hpp"
#include "ledger/ledger.hpp"
#include "pci/pci_device.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vfiod
{

/** @brief What vfiod has done with a device. */
enum class DeviceState
{
    Host,     ///< on its host driver (or unbound), not managed by vfiod
    Vfio,     ///< on vfio-pci or a variant, not assigned to anyone
    Assigned, ///< on vfio and held by an owner
};

/** @brief "host", "vfio", "assigned". */
std::string_view deviceStateName(DeviceState state) noexcept;

/** @brief Everything the bus shows about one device, at one moment. */
struct DeviceInfo
{
    PciDevice pci;
    /// The driver before vfiod bound it to vfio: "" when it had none,
    /// std::nullopt when vfiod did not bind it (not managed, or found on
    /// vfio already).
    std::optional<std::string> originalDriver;
    DeviceState state = DeviceState::Host;
    std::string owner;     ///< who holds the assignment, "" when none
    std::string plugin;    ///< plugin handling the device, "" when none
    std::string lastError; ///< why the last operation failed, "" when ok
    /// The ledger could not record the device's last change (lastError
    /// says why): a restart would not know of it. Kept through later
    /// successes, so that the warning stays visible.
    bool unrecorded = false;
    /// The secret that lets the owner re-attach to the assignment (after
    /// a restart of vfiod); "" when not assigned. Never on the bus.
    std::string leaseToken;
};

/** @brief What start-up reconciliation found and did, for the log. */
struct ReconcileReport
{
    std::vector<std::string> notes;    ///< info level
    std::vector<std::string> problems; ///< warning level
    /// Devices still assigned from before the restart: their owners may
    /// re-attach with their lease token.
    std::vector<PciAddress> assigned;
};

/** @brief What changed, for the D-Bus layer to announce. */
struct DeviceChange
{
    enum class Kind
    {
        Added,
        Removed,
        Changed,
    };
    Kind kind;
    PciAddress address;
};

/** @brief Tunables of DeviceManager. */
struct ManagerOptions
{
    BindTimeouts timeouts;
    /// How long an operation waits for another one on the same IOMMU group
    /// before giving up with Busy.
    std::chrono::milliseconds groupLockWait{std::chrono::seconds(30)};
};

/** @brief The DeviceManager tunables vfiod.toml describes. */
ManagerOptions managerOptions(const DaemonConfig& config);

/**
 * @brief The device set and every operation on it, above the kernel
 * boundary and below the bus.
 *
 * Operations block (they wait for the kernel) and are meant to run on
 * worker threads. Operations on one IOMMU group are serialized; operations
 * on different groups run in parallel; info() never waits for an operation.
 * Listeners are called after every change, from whichever thread made it,
 * with no lock held.
 */
class DeviceManager
{
  public:
    using Listener = std::function<void(const DeviceChange&)>;

    /** @param stuck the registry of calls blocked past their caller (one
     *         of its own when null); the core service shares it with the
     *         plugin host. */
    DeviceManager(KernelHost& host, ManagerOptions options,
                  std::shared_ptr<StuckDevices> stuck = nullptr);
    ~DeviceManager();

    DeviceManager(const DeviceManager&) = delete;
    DeviceManager& operator=(const DeviceManager&) = delete;

    /**
     * @brief Waits for the give-backs still finishing (after an unbind
     * that timed out) to end; for an owner that goes away before the
     * manager does.
     */
    void joinFinishers();

    /** @brief Registers a listener; call before enumerate(). */
    void subscribe(Listener listener);

    /**
     * @brief Keeps a ledger of every device taken from its driver from now
     * on (call before enumerate()). Without one, nothing is persisted.
     */
    void keepLedger(Ledger& ledger);

    /**
     * @brief After enumerate(): reconciles the ledger with what the kernel
     * shows. A device still on vfio with a record stays managed (and
     * assigned to its owner, whose lease waits to be re-attached); a record
     * whose device vanished is dropped; a record of a bind that never took
     * effect is dropped; a device left without a driver in the middle of a
     * give-back is given back; a device on vfio without a record is adopted
     * as "vfio", with no original driver and no owner. A device whose
     * override shows a sequence cut short (its unbind may still be in
     * flight in the kernel) has its override written again first, which
     * waits for that unbind, and is judged on what it is afterwards.
     */
    ReconcileReport reconcile();

    /**
     * @brief Reads every device present (start-up).
     * @return the devices that could not be read, with the reason: one
     *         odd device must not keep vfiod from serving the others.
     */
    std::vector<std::pair<PciAddress, std::string>> enumerate();

    /** @brief Every known device, sorted. */
    std::vector<PciAddress> addresses() const;

    /** @brief A snapshot of one device; std::nullopt when unknown. */
    std::optional<DeviceInfo> info(const PciAddress& address) const;

    /**
     * @brief Calls @p read with one device's info under the manager's lock,
     * without copying it: property reads take one field each, and
     * GetManagedObjects reads eight per device (bench/). @p read must be
     * quick and must not call the manager.
     * @return false when the device is unknown (@p read not called).
     */
    bool peek(const PciAddress& address,
              const std::function<void(const DeviceInfo&)>& read) const;

    /**
     * @brief Binds the device to vfio: @p driver is "vfio-pci", a variant
     * name, or "" for the best modules.alias match. Idempotent.
     *
     * With @p wholeGroup, every other endpoint of the device's IOMMU group
     * that is on a host driver goes to vfio too (each with its best
     * match), so that a GPU and its audio function can be bound at all:
     * one at a time, each would be refused because of the other. Either
     * all of them end up on vfio, or none moves.
     * @throws Error: NotFound, InvalidArgument, Busy, NotViable,
     *         NotSupported, Failed, TimedOut.
     */
    void bind(const PciAddress& address, const std::string& driver,
              bool wholeGroup = false);

    /**
     * @brief Gives the device back to its original driver.
     * @throws Error: NotFound, Busy (assigned), Failed, TimedOut.
     */
    void unbind(const PciAddress& address);

    /**
     * @brief Binds if needed, checks the group, records @p owner.
     * @throws Error: Busy when already assigned, plus those of bind().
     */
    void assign(const PciAddress& address, const std::string& owner,
                const std::string& driver, const std::string& leaseToken = "");

    /**
     * @brief Records the device's current (host) driver as its original
     * driver, in memory and in the ledger, before something other than the
     * binder takes it off that driver: a plugin whose prepare-bind unbinds
     * the device (mlx5 must, for devlink). No-op on vfio or when known.
     */
    void rememberOriginalDriver(const PciAddress& address);

    /**
     * @brief Hands an assignment that survived a restart to @p newOwner,
     * who proves it is the holder with the lease token given at Assign.
     * @throws Error: NotFound (not assigned), AccessDenied (wrong token).
     */
    void reattach(const PciAddress& address, const std::string& token,
                  const std::string& newOwner);

    /**
     * @brief Ends an assignment; the device stays on vfio.
     * @param owner when not empty, only that owner's assignment is ended
     *        (Busy otherwise).
     */
    void release(const PciAddress& address, const std::string& owner);

    /**
     * @brief Gives a device that has no driver the host driver the kernel
     * would pick (modules.alias), also where the kernel itself would not
     * probe it: a VF whose PF has sriov_drivers_autoprobe=0.
     * @throws Error: NotFound (no device, no matching host driver), Busy,
     *         Failed, TimedOut.
     */
    void probeHostDriver(const PciAddress& address);

    /**
     * @brief Resets the device through sysfs; @p method "" uses the
     * kernel's order, otherwise one of the device's reset methods.
     * @throws Error: NotFound, NotSupported (no such method / none),
     *         Busy, Failed, TimedOut.
     */
    void reset(const PciAddress& address, const std::string& method);

    /**
     * @brief The vfio driver a bind with @p requested would use (see
     * DriverBinder::chooseVfioDriver).
     * @throws Error: NotFound, InvalidArgument.
     */
    std::string chooseVfioDriver(const PciAddress& address,
                                 const std::string& requested);

    /**
     * @brief Replaces the device's LastError, for a failure found above
     * the manager (an autobind the policy asked for).
     */
    void setLastError(const PciAddress& address, const std::string& message);

    /**
     * @brief Turns a PF's sriov_drivers_autoprobe on or off (the policy
     * keeps wanted VFs away from their host driver).
     * @throws Error: NotFound, Busy, Failed.
     */
    void setVfAutoprobe(const PciAddress& pf, bool on);

    /** @brief Feeds a uevent in: devices appear, vanish, change. */
    void handleUevent(const Uevent& event);

    KernelHost& kernel() noexcept
    {
        return host;
    }

    /** @throws Error: NotFound, Busy when the device is assigned. */
    void requireUnassigned(const PciAddress& address) const;

    /**
     * @brief The processes that hold the device open through VFIO (its
     * group or its cdev); none when it is not on vfio. Scans every
     * process: not for a hot path.
     */
    std::vector<VfioHolder> holders(const PciAddress& address);

    /**
     * @throws Error(InUse) naming each process that holds the device open
     *         through VFIO, with what to do; @p what starts the message.
     */
    void requireNotHeld(const PciAddress& address, const std::string& what);

    /**
     * @brief holders() for display: from one scan of the host shared by
     * every device asked about within a second, so that listing thousands
     * of devices scans the processes once, not once per device.
     */
    std::vector<VfioHolder> recentHolders(const PciAddress& address);

    /** @brief One IOMMU group held, for the length of a scope. */
    class GroupHold
    {
      public:
        GroupHold(std::shared_ptr<std::recursive_timed_mutex> mutex,
                  std::chrono::milliseconds wait, const std::string& what);
        ~GroupHold();
        GroupHold(const GroupHold&) = delete;
        GroupHold& operator=(const GroupHold&) = delete;

      private:
        std::shared_ptr<std::recursive_timed_mutex> mutex;
    };

    /**
     * @brief Holds the device's IOMMU group (a device without a group:
     * the device) for the life of the returned object: operations on the
     * group from other threads wait, those of this thread go through, so
     * that the core service keeps one hold over a plugin's prepare, the
     * kernel sequence and the cleanup.
     * @throws Error: NotFound, Busy when the group stays held longer than
     *         the group wait.
     */
    GroupHold holdGroup(const PciAddress& address);

  private:
    /** @brief Start-up: waits, within the unbind timeout, for a device
     *  lock an earlier vfiod's call may still hold. */
    void awaitDeviceLock(const PciAddress& address, bool recorded);

    /// recentHolders' scan and when it was taken.
    struct HolderScan
    {
        std::mutex mutex;
        std::chrono::steady_clock::time_point taken;
        std::vector<VfioHolder> holders;
        bool valid = false;
    };
    HolderScan holderScan;

    DeviceInfo known(const PciAddress& address) const;
    void requireNoAssignedMember(const PciAddress& address);
    void bindLocked(const PciAddress& address, const std::string& driver,
                    GroupCheck groupCheck = GroupCheck::Required);
    void bindGroupLocked(const PciAddress& address, const std::string& driver);
    /** Reads the device again; @p change, when given, is applied to its
     *  record in the same step (one notification). */
    void refresh(const PciAddress& address,
                 const std::function<void(DeviceInfo&)>& change = {});
    void update(const PciAddress& address,
                const std::function<void(DeviceInfo&)>& change);
    void forget(const PciAddress& address);
    void notify(const DeviceChange& change);
    void recordError(const PciAddress& address, const Error& error);
    void succeeded(const PciAddress& address);
    void finishLater(const PciAddress& address,
                     const std::optional<std::string>& driver);
    void finishIfPending(const PciAddress& address);
    void finishGiveBack(const PciAddress& address,
                        const std::optional<std::string>& originalDriver);
    void recordIntent(const PciAddress& address);
    void persist(const PciAddress& address);
    /** reconcile() of one record (device_reconcile.cpp). */
    void reconcileRecord(const PciAddress& address, const LedgerRecord& record,
                         ReconcileReport& report);
    /** Waits out a kernel sequence of the vfiod that stopped still in
     *  flight on the device; false when the kernel still holds it. */
    bool settleCutShort(const PciAddress& address, const LedgerRecord& record,
                        ReconcileReport& report);

    KernelHost& host;
    ManagerOptions options;
    KernelCalls calls;
    DriverBinder binder;
    Ledger* ledger = nullptr;

    mutable std::mutex mutex; ///< guards devices and groupMutexes
    std::map<PciAddress, DeviceInfo> devices;
    /// "group 12", or "device 0000:00:05.0" for a device without a group.
    std::map<std::string, std::shared_ptr<std::recursive_timed_mutex>>
        groupMutexes;
    std::vector<Listener> listeners;
    /// Unbinds that timed out while the kernel kept waiting: when the
    /// kernel lets go, the give-back the caller asked for is finished.
    std::map<PciAddress, std::optional<std::string>> unfinishedGiveBacks;
    std::vector<std::jthread> finishers; ///< joined on destruction
};

} // namespace vfiod
