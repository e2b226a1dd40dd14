// DeviceManager::reconcile: at start-up, the ledger against what the
// kernel shows, so that no device is lost track of across a crash.
#include "service/device_manager.hpp"

namespace vfiod
{

namespace
{

bool isVfioOverride(const std::string& override)
{
    return isVfioDriver(override) || override == "none";
}

/**
 * A kernel sequence of the vfiod that stopped was cut short after its
 * override was written, and its unbind may still be in flight: the kernel
 * finishes an unbind whose writer was killed, so the driver read now may
 * be gone a moment later. A bind writes driver_override, then unbinds the
 * host driver; a give-back (and a bind's rollback) clears it, then unbinds
 * the vfio driver. A device at rest has its override in step with its
 * driver.
 */
bool cutShort(const PciDevice& pci, const LedgerRecord& record)
{
    if (isVfioDriver(pci.driver))
    {
        return pci.driverOverride != pci.driver;
    }
    return record.binding && isVfioOverride(pci.driverOverride);
}

} // namespace

bool DeviceManager::settleCutShort(const PciAddress& address,
                                   const LedgerRecord& record,
                                   ReconcileReport& report)
{
    std::optional<DeviceInfo> device = info(address);
    if (!device || !cutShort(device->pci, record))
    {
        return true;
    }
    // The override it is written to is the one the device keeps where it
    // is: vfio's on vfio (a give-back is finished below if its unbind
    // completes), none on a host driver (a bind cut short never happened,
    // and its override must not send the device to vfio at its next
    // probe). The write waits for the unbind in flight; the device is read
    // again after it.
    const std::string& driver = device->pci.driver;
    try
    {
        if (calls.isStuck(address))
        {
            // Start-up already waited for its device lock in vain.
            fail(Errc::TimedOut, "its device lock is still held");
        }
        GroupHold hold = holdGroup(address);
        binder.settleOverride(address, isVfioDriver(driver) ? driver : "");
    }
    catch (const Error& e)
    {
        if (e.code() != Errc::TimedOut)
        {
            // Nothing in flight holds it: judged on what it shows.
            report.problems.push_back(address.str() +
                                      ": cannot write the override of a "
                                      "sequence cut short: " +
                                      e.what());
            refresh(address);
            return true;
        }
        // Still blocked in the kernel: the record stays, and the device
        // goes back to its driver once the kernel lets go.
        finishLater(address, record.originalDriver);
        report.problems.push_back(
            address.str() + ": an unbind of the vfiod that stopped is still " +
            "in flight; its record stays until the kernel lets go: " +
            e.what());
        return false;
    }
    refresh(address);
    return true;
}

void DeviceManager::reconcileRecord(const PciAddress& address,
                                    const LedgerRecord& record,
                                    ReconcileReport& report)
{
    if (info(address) && !settleCutShort(address, record, report))
    {
        return;
    }
    std::optional<DeviceInfo> device = info(address);
    if (!device)
    {
        ledger->erase(address);
        report.notes.push_back(address.str() +
                               ": gone; its ledger record is dropped");
        return;
    }
    const std::string& driver = device->pci.driver;
    if (isVfioDriver(driver))
    {
        update(address, [&record](DeviceInfo& info) {
            info.originalDriver = record.originalDriver;
            info.owner = record.owner;
            info.leaseToken = record.leaseToken;
        });
        persist(address); // clears an intent whose bind did happen
        if (!record.owner.empty())
        {
            report.assigned.push_back(address);
        }
        report.notes.push_back(
            address.str() + ": on " + driver + ", managed (original " +
            "driver " +
            (record.originalDriver.empty() ? "none" : record.originalDriver) +
            (record.owner.empty() ? "" : ", assigned to " + record.owner) +
            ")");
        return;
    }
    if (driver.empty() && !record.originalDriver.empty())
    {
        // A give-back (or a bind, or its rollback) cut short between the
        // unbind and the probe: finish it.
        try
        {
            GroupHold hold = holdGroup(address);
            binder.giveBack(address, record.originalDriver);
            ledger->erase(address);
            refresh(address);
            report.notes.push_back(address.str() +
                                   ": found without a driver, given "
                                   "back to " +
                                   record.originalDriver);
        }
        catch (const Error& e)
        {
            report.problems.push_back(
                address.str() +
                ": found without a driver; giving it back "
                "to " +
                record.originalDriver + " failed: " + e.what());
        }
        return;
    }
    if (isVfioOverride(device->pci.driverOverride))
    {
        // Left by a bind cut short, or written above to wait out a
        // give-back to no driver: either way it would send the device to
        // vfio, unrecorded, at its next probe.
        try
        {
            GroupHold hold = holdGroup(address);
            binder.clearOverride(address);
            refresh(address);
        }
        catch (const std::exception& e)
        {
            report.problems.push_back(address.str() +
                                      ": cannot clear the override of "
                                      "an unfinished bind: " +
                                      e.what());
        }
    }
    ledger->erase(address);
    report.notes.push_back(
        address.str() + ": on " + (driver.empty() ? "no driver" : driver) +
        ", not vfio; its ledger record (" +
        (record.binding ? "a bind that did not happen"
                        : "taken off vfio while vfiod was down") +
        ") is dropped");
}

ReconcileReport DeviceManager::reconcile()
{
    ReconcileReport report;
    if (ledger == nullptr)
    {
        return report;
    }
    std::map<std::string, std::string> damaged;
    std::map<PciAddress, LedgerRecord> records = ledger->load(&damaged);
    for (const auto& [file, why] : damaged)
    {
        report.problems.push_back("ledger record " + file + " is unreadable (" +
                                  why + "), left in place");
    }
    for (const auto& [address, record] : records)
    {
        reconcileRecord(address, record, report);
    }
    for (const PciAddress& address : addresses())
    {
        std::optional<DeviceInfo> device = info(address);
        if (device && isVfioDriver(device->pci.driver) &&
            !records.contains(address))
        {
            report.notes.push_back(address.str() + ": found on " +
                                   device->pci.driver +
                                   " without a record: adopted as vfio");
        }
    }
    return report;
}

} // namespace vfiod
