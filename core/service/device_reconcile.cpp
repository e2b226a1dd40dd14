// DeviceManager::reconcile: at start-up, the ledger against what the
// kernel shows, so that no device is lost track of across a crash.
#include "service/device_manager.hpp"

namespace vfiod
{

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
        std::optional<DeviceInfo> device = info(address);
        if (!device)
        {
            ledger->erase(address);
            report.notes.push_back(address.str() +
                                   ": gone; its ledger record is dropped");
            continue;
        }
        const std::string& driver = device->pci.driver;
        if (isVfioDriver(driver))
        {
            // An init-capture: clang before 16 cannot capture a structured
            // binding by name.
            update(address, [&kept = record](DeviceInfo& info) {
                info.originalDriver = kept.originalDriver;
                info.owner = kept.owner;
                info.leaseToken = kept.leaseToken;
            });
            persist(address); // clears an intent whose bind did happen
            if (!record.owner.empty())
            {
                report.assigned.push_back(address);
            }
            report.notes.push_back(
                address.str() + ": on " + driver + ", managed (original " +
                "driver " +
                (record.originalDriver.empty() ? "none"
                                               : record.originalDriver) +
                (record.owner.empty() ? "" : ", assigned to " + record.owner) +
                ")");
            continue;
        }
        if (driver.empty() && !record.originalDriver.empty())
        {
            // A give-back (or a rolled-back bind) cut short between the
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
            continue;
        }
        if (record.binding && !driver.empty() &&
            (isVfioDriver(device->pci.driverOverride) ||
             device->pci.driverOverride == "none"))
        {
            // The bind was cut short after its override was written: the
            // override is vfiod's, and would send the device to vfio at
            // its next probe.
            try
            {
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
