// DeviceManager's ledger records: written ahead of every kernel change that
// takes a device from its driver, and kept in step after it.
#include "service/device_manager.hpp"

namespace vfiod
{

namespace
{

constexpr std::string_view ledgerProblem = "not recorded in the ledger: ";

} // namespace

void DeviceManager::recordIntent(const PciAddress& address)
{
    // Written ahead of the kernel change: if vfiod dies between the bind
    // and the record, the record is already there; if it dies before the
    // bind, reconcile() finds the device on its driver and drops it.
    if (ledger == nullptr)
    {
        return;
    }
    DeviceInfo device = known(address);
    if (isVfioDriver(device.pci.driver))
    {
        return; // moving between vfio drivers: the record stands
    }
    LedgerRecord record;
    record.address = address;
    record.originalDriver = device.originalDriver.value_or(device.pci.driver);
    record.owner = device.owner;
    record.leaseToken = device.leaseToken;
    record.binding = true;
    ledger->put(record); // throws: no bind without a record
}

void DeviceManager::persist(const PciAddress& address)
{
    if (ledger == nullptr)
    {
        return;
    }
    std::optional<DeviceInfo> device = info(address);
    try
    {
        if (!device || (!device->originalDriver && device->owner.empty()))
        {
            ledger->erase(address);
            return;
        }
        LedgerRecord record;
        record.address = address;
        record.originalDriver = device->originalDriver.value_or("");
        record.owner = device->owner;
        record.leaseToken = device->leaseToken;
        ledger->put(record);
    }
    catch (const Error& e)
    {
        // The kernel change is done; what is lost is only the memory of it
        // across a restart, which the device's LastError now says.
        update(address, [&e](DeviceInfo& info) {
            info.lastError = std::string(ledgerProblem) + e.what();
            info.unrecorded = true;
        });
    }
}

} // namespace vfiod
