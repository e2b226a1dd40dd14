#pragma once

#include "sim/sim_pci_bus.hpp"
#include "sim/sim_sysfs.hpp"

#include <string>
#include <string_view>

/**
 * @brief What writing each simulated sysfs file does: the *_store
 * functions of drivers/pci/pci-sysfs.c, iov.c, pci-driver.c and
 * drivers/base/bus.c, one step at a time (a device's own attributes in
 * sim_device_writes.hpp, the bus and driver files in sim_bus_writes.hpp).
 *
 * A write that the kernel would block (device lock held by an operation
 * in flight, an unbind waiting for the last close, a slow reset) returns a
 * Step telling SimKernel what to wait for; SimKernel waits without holding
 * any lock and then calls again or finishes.
 */
namespace vfiod::sim
{

/** @brief One locked transaction on the model. */
struct Tx
{
    Model& model;
    PciBus& bus;
    int64_t nowMs;
    bool changed = false;
    /// Where migration streams live (sim_migration.hpp).
    std::string streamDir = {};
};

struct Step
{
    enum class Kind
    {
        Done,          ///< finished; error is the errno (0 = success)
        WaitUnlocked,  ///< device lock busy: wait, then write again
        WaitCompleted, ///< started an operation: wait for it, then done
    };

    Kind kind = Kind::Done;
    int error = 0;
    PciAddress device;
    uint64_t pendingId = 0;
    int64_t readyAtMs = 0;

    static Step done(int error = 0)
    {
        Step step;
        step.error = error;
        return step;
    }
};

/** @brief Remembered across the retries of one write(2). */
struct WriteMemory
{
    /// unbind: the device was bound to the driver when first checked.
    bool sawBound = false;
};

/** @brief Applies one write(2) of @p value to @p path. */
Step applyWrite(Tx& tx, const std::string& path, std::string_view value,
                WriteMemory& memory);

/** @brief Waits for the device lock when an operation is in flight. */
std::optional<Step> waitIfLocked(const Device& device);

/**
 * @brief Waits for the device lock when reading @p entry takes it
 * (driver_override_show in pci-sysfs.c, sriov_numvfs_show in iov.c) and
 * an operation in flight holds it: a reader of driver_override sits in D
 * state for as long as a blocked unbind does.
 */
std::optional<Step> waitIfReadLocked(const Model& model, const SysEntry& entry);

/**
 * @brief Starts a pending operation on @p device that completes later
 * (PciBus::settle) and returns the Step that waits for it.
 */
Step startPending(Tx& tx, Device& device, PendingKind kind, unsigned delayMs);

} // namespace vfiod::sim
