#include "service/device_manager.hpp"

#include "pci/iommu_group.hpp"
#include "binding/reset.hpp"
#include "kernel/sysfs_layout.hpp"

namespace vfiod
{

ManagerOptions managerOptions(const DaemonConfig& config)
{
    ManagerOptions options;
    options.timeouts = config.timeouts;
    options.groupLockWait = config.groupWait;
    return options;
}

namespace
{

constexpr std::string_view ledgerProblem = "not recorded in the ledger: ";

} // namespace

std::string_view deviceStateName(DeviceState state) noexcept
{
    switch (state)
    {
        case DeviceState::Host:
            return "host";
        case DeviceState::Vfio:
            return "vfio";
        case DeviceState::Assigned:
            return "assigned";
    }
    return "host";
}

namespace
{

DeviceState stateOf(const DeviceInfo& info)
{
    if (!info.owner.empty())
    {
        return DeviceState::Assigned;
    }
    return isVfioDriver(info.pci.driver) ? DeviceState::Vfio
                                         : DeviceState::Host;
}

} // namespace

DeviceManager::GroupHold::GroupHold(
    std::shared_ptr<std::recursive_timed_mutex> groupMutex,
    std::chrono::milliseconds wait, const std::string& what) :
    mutex(std::move(groupMutex))
{
    if (!mutex->try_lock_for(wait))
    {
        fail(Errc::Busy,
             "another operation on " + what + " is still in progress");
    }
}

DeviceManager::GroupHold::~GroupHold()
{
    mutex->unlock();
}

DeviceManager::DeviceManager(KernelHost& host, ManagerOptions options,
                             std::shared_ptr<StuckDevices> stuck) :
    host(host), options(options), calls(host, std::move(stuck)),
    binder(host, calls, options.timeouts)
{}

DeviceManager::~DeviceManager()
{
    std::vector<std::jthread> running;
    {
        std::lock_guard lock(mutex);
        running.swap(finishers);
    }
    running.clear(); // joins
}

void DeviceManager::subscribe(Listener listener)
{
    std::lock_guard lock(mutex);
    listeners.push_back(std::move(listener));
}

void DeviceManager::keepLedger(Ledger& kept)
{
    ledger = &kept;
}

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

std::vector<std::pair<PciAddress, std::string>> DeviceManager::enumerate()
{
    std::vector<std::pair<PciAddress, std::string>> skipped;
    for (const auto& address : listPciDevices(host))
    {
        try
        {
            refresh(address);
        }
        catch (const Error& e)
        {
            skipped.emplace_back(address, e.what());
        }
    }
    return skipped;
}

std::vector<PciAddress> DeviceManager::addresses() const
{
    std::lock_guard lock(mutex);
    std::vector<PciAddress> out;
    out.reserve(devices.size());
    for (const auto& [address, info] : devices)
    {
        out.push_back(address);
    }
    return out;
}

std::optional<DeviceInfo> DeviceManager::info(const PciAddress& address) const
{
    std::lock_guard lock(mutex);
    auto it = devices.find(address);
    if (it == devices.end())
    {
        return std::nullopt;
    }
    return it->second;
}

bool DeviceManager::peek(
    const PciAddress& address,
    const std::function<void(const DeviceInfo&)>& read) const
{
    std::lock_guard lock(mutex);
    auto it = devices.find(address);
    if (it == devices.end())
    {
        return false;
    }
    read(it->second);
    return true;
}

DeviceInfo DeviceManager::known(const PciAddress& address) const
{
    auto found = info(address);
    if (!found)
    {
        fail(Errc::NotFound, "no PCI device " + address.str());
    }
    return *found;
}

void DeviceManager::requireUnassigned(const PciAddress& address) const
{
    DeviceInfo device = known(address);
    if (device.state == DeviceState::Assigned)
    {
        fail(Errc::Busy, address.str() + " is assigned to " + device.owner +
                             "; release it first");
    }
}

DeviceManager::GroupHold DeviceManager::holdGroup(const PciAddress& address)
{
    DeviceInfo device = known(address);
    std::string key =
        device.pci.iommuGroup >= 0
            ? "IOMMU group " + std::to_string(device.pci.iommuGroup)
            : "device " + address.str();
    std::shared_ptr<std::recursive_timed_mutex> groupMutex;
    {
        std::lock_guard lock(mutex);
        auto& slot = groupMutexes[key];
        if (!slot)
        {
            slot = std::make_shared<std::recursive_timed_mutex>();
        }
        groupMutex = slot;
    }
    return GroupHold(std::move(groupMutex), options.groupLockWait, key);
}

void DeviceManager::bindLocked(const PciAddress& address,
                               const std::string& driver, GroupCheck groupCheck)
{
    recordIntent(address);
    BindOutcome outcome;
    try
    {
        outcome = binder.bindToVfio(address, driver, groupCheck);
    }
    catch (const Error&)
    {
        // Rolled back: the intent must not outlive the attempt. A call
        // still stuck in the kernel keeps it; the give-back that finishes
        // the job persists the outcome.
        if (!calls.isStuck(address))
        {
            persist(address);
        }
        throw;
    }
    if (outcome.changed)
    {
        update(address, [&outcome](DeviceInfo& info) {
            // Moving between vfio drivers keeps the host driver on record.
            if (!info.originalDriver && !isVfioDriver(outcome.previousDriver))
            {
                info.originalDriver = outcome.previousDriver;
            }
        });
    }
    persist(address);
}

void DeviceManager::bindGroupLocked(const PciAddress& address,
                                    const std::string& driver)
{
    int group = known(address).pci.iommuGroup;
    if (group < 0)
    {
        bindLocked(address, driver); // refuses with the reason
        return;
    }
    // Members that stay where they are must keep the group viable; the
    // others all move, so none of them is checked against the rest.
    std::vector<PciAddress> moving;
    for (const auto& member : iommuGroupMembers(host, group))
    {
        PciDevice pci = readPciDevice(host, member);
        if (member == address ||
            (!pci.isBridge() && !isVfioDriver(pci.driver) &&
             !keepsGroupViable(pci.driver)))
        {
            moving.push_back(member);
        }
        else if (!keepsGroupViable(pci.driver))
        {
            fail(Errc::NotViable, "IOMMU group " + std::to_string(group) +
                                      " cannot be bound as a whole: bridge " +
                                      member.str() + " is on " + pci.driver);
        }
    }
    std::vector<std::pair<PciAddress, std::string>> done;
    try
    {
        for (const auto& member : moving)
        {
            std::string before = readPciDevice(host, member).driver;
            bindLocked(member, member == address ? driver : "",
                       GroupCheck::DoneByCaller);
            done.emplace_back(member, before);
        }
    }
    catch (const Error&)
    {
        // All or nothing: the members already moved go back.
        for (auto it = done.rbegin(); it != done.rend(); ++it)
        {
            try
            {
                binder.giveBack(it->first, it->second);
                update(it->first,
                       [](DeviceInfo& info) { info.originalDriver.reset(); });
                persist(it->first);
            }
            catch (const Error&)
            {
                // Reported through the member's own state; the first
                // error is the one the caller needs.
            }
        }
        throw;
    }
    for (const auto& member : moving)
    {
        if (member != address)
        {
            succeeded(member);
        }
    }
}

void DeviceManager::bind(const PciAddress& address, const std::string& driver,
                         bool wholeGroup)
{
    GroupHold hold = holdGroup(address);
    DeviceInfo device = known(address);
    try
    {
        if (device.state == DeviceState::Assigned && !driver.empty() &&
            driver != device.pci.driver)
        {
            fail(Errc::Busy, address.str() + " is assigned to " + device.owner +
                                 "; release it first");
        }
        if (wholeGroup)
        {
            bindGroupLocked(address, driver);
        }
        else
        {
            bindLocked(address, driver);
        }
    }
    catch (const Error& e)
    {
        // An unbind from the host driver still blocked in the kernel: once
        // it completes, the device goes back rather than stay driverless.
        finishLater(address, device.pci.driver);
        recordError(address, e);
        throw;
    }
    succeeded(address);
}

void DeviceManager::unbind(const PciAddress& address)
{
    GroupHold hold = holdGroup(address);
    try
    {
        requireUnassigned(address);
        binder.giveBack(address, known(address).originalDriver);
    }
    catch (const Error& e)
    {
        finishLater(address, known(address).originalDriver);
        recordError(address, e);
        throw;
    }
    update(address, [](DeviceInfo& info) { info.originalDriver.reset(); });
    persist(address);
    succeeded(address);
}

void DeviceManager::assign(const PciAddress& address, const std::string& owner,
                           const std::string& driver,
                           const std::string& leaseToken)
{
    requireUnassigned(address); // answer at once, without queueing
    GroupHold hold = holdGroup(address);
    std::string driverBefore = known(address).pci.driver;
    try
    {
        requireUnassigned(address);
        bindLocked(address, driver);
        DeviceInfo device = known(address);
        requireViableGroup(host, address, device.pci.iommuGroup);
    }
    catch (const Error& e)
    {
        finishLater(address, driverBefore);
        recordError(address, e);
        throw;
    }
    update(address, [&owner, &leaseToken](DeviceInfo& info) {
        info.owner = owner;
        info.leaseToken = leaseToken;
    });
    persist(address);
    succeeded(address);
}

namespace
{

/** @brief Compares secrets in a time that does not depend on where they
 *  differ. */
bool sameSecret(const std::string& a, const std::string& b)
{
    if (a.size() != b.size())
    {
        return false;
    }
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
    {
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
}

} // namespace

void DeviceManager::rememberOriginalDriver(const PciAddress& address)
{
    GroupHold hold = holdGroup(address);
    DeviceInfo device = known(address);
    if (device.originalDriver || isVfioDriver(device.pci.driver))
    {
        return;
    }
    recordIntent(address);
    update(address, [&device](DeviceInfo& info) {
        info.originalDriver = device.pci.driver;
    });
}

void DeviceManager::reattach(const PciAddress& address,
                             const std::string& token,
                             const std::string& newOwner)
{
    GroupHold hold = holdGroup(address);
    DeviceInfo device = known(address);
    if (device.state != DeviceState::Assigned)
    {
        fail(Errc::NotFound, address.str() + " is not assigned");
    }
    if (token.empty() || !sameSecret(token, device.leaseToken))
    {
        fail(Errc::AccessDenied,
             address.str() + ": that is not the lease token of its assignment");
    }
    update(address, [&newOwner](DeviceInfo& info) { info.owner = newOwner; });
    persist(address);
}

void DeviceManager::release(const PciAddress& address, const std::string& owner)
{
    GroupHold hold = holdGroup(address);
    DeviceInfo device = known(address);
    if (device.state != DeviceState::Assigned)
    {
        fail(Errc::NotFound, address.str() + " is not assigned");
    }
    if (!owner.empty() && owner != device.owner)
    {
        fail(Errc::Busy, address.str() + " is assigned to " + device.owner +
                             ", not to " + owner);
    }
    update(address, [](DeviceInfo& info) {
        info.owner.clear();
        info.leaseToken.clear();
    });
    persist(address);
    succeeded(address);
}

void DeviceManager::probeHostDriver(const PciAddress& address)
{
    GroupHold hold = holdGroup(address);
    try
    {
        PciDevice pci = readPciDevice(host, address);
        if (!pci.driver.empty())
        {
            return;
        }
        std::optional<std::string> driver = binder.hostDriverFor(pci);
        if (!driver)
        {
            fail(Errc::NotFound, "no host driver in modules.alias matches " +
                                     address.str() + " (" + pci.modalias + ")");
        }
        binder.giveBack(address, *driver);
    }
    catch (const Error& e)
    {
        recordError(address, e);
        throw;
    }
    succeeded(address);
}

void DeviceManager::reset(const PciAddress& address, const std::string& method)
{
    GroupHold hold = holdGroup(address);
    try
    {
        resetFunction(host, calls, readPciDevice(host, address), method,
                      options.timeouts.reset);
    }
    catch (const Error& e)
    {
        recordError(address, e);
        throw;
    }
    succeeded(address);
}

std::string DeviceManager::chooseVfioDriver(const PciAddress& address,
                                            const std::string& requested)
{
    return binder.chooseVfioDriver(known(address).pci, requested);
}

void DeviceManager::setVfAutoprobe(const PciAddress& pf, bool on)
{
    binder.setVfAutoprobe(pf, on);
    refresh(pf);
}

void DeviceManager::setLastError(const PciAddress& address,
                                 const std::string& message)
{
    update(address, [&message](DeviceInfo& info) {
        info.lastError = message;
        info.unrecorded = false;
    });
}

void DeviceManager::handleUevent(const Uevent& event)
{
    if (event.subsystem != "pci")
    {
        return;
    }
    PciAddress address;
    if (!PciAddress::tryParse(event.sysname, address))
    {
        return;
    }
    if (event.action == "remove")
    {
        forget(address);
        return;
    }
    refresh(address);

    if (event.action != "unbind")
    {
        return;
    }
    std::lock_guard lock(mutex);
    auto pending = unfinishedGiveBacks.find(address);
    if (pending != unfinishedGiveBacks.end())
    {
        // Off the event thread: drivers_probe runs a driver's probe.
        finishers.emplace_back(&DeviceManager::finishGiveBack, this, address,
                               pending->second);
        unfinishedGiveBacks.erase(pending);
    }
}

void DeviceManager::finishLater(const PciAddress& address,
                                const std::optional<std::string>& driver)
{
    if (calls.isStuck(address))
    {
        // The operation that got stuck decides; a later one refused with
        // Busy meanwhile must not overwrite its plan.
        std::lock_guard lock(mutex);
        unfinishedGiveBacks.try_emplace(address, driver);
    }
}

void DeviceManager::finishGiveBack(
    const PciAddress& address, const std::optional<std::string>& originalDriver)
{
    try
    {
        calls.waitUntilNotStuck(address, options.timeouts.unbind);
        GroupHold hold = holdGroup(address);
        binder.giveBack(address, originalDriver);
        update(address, [](DeviceInfo& info) { info.originalDriver.reset(); });
        persist(address);
        succeeded(address);
    }
    catch (const Error& e)
    {
        recordError(address, e);
    }
}

void DeviceManager::refresh(const PciAddress& address)
{
    PciDevice pci;
    try
    {
        pci = readPciDevice(host, address);
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::NotFound)
        {
            forget(address);
            return;
        }
        throw;
    }

    DeviceChange change{DeviceChange::Kind::Changed, address};
    bool released = false;
    {
        std::lock_guard lock(mutex);
        auto [it, added] = devices.try_emplace(address);
        DeviceInfo& info = it->second;
        info.pci = std::move(pci);
        // Someone else took it off vfio onto a host driver: vfiod no longer
        // manages it. Without a driver it is only between two steps (of a
        // bind, a give-back, or a driverctl), and its record stays.
        if (!info.pci.driver.empty() && !isVfioDriver(info.pci.driver) &&
            info.owner.empty() && info.originalDriver)
        {
            info.originalDriver.reset();
            released = true;
        }
        info.state = stateOf(info);
        if (added)
        {
            change.kind = DeviceChange::Kind::Added;
        }
    }
    if (released)
    {
        persist(address);
    }
    notify(change);
}

void DeviceManager::update(const PciAddress& address,
                           const std::function<void(DeviceInfo&)>& change)
{
    {
        std::lock_guard lock(mutex);
        auto it = devices.find(address);
        if (it == devices.end())
        {
            return;
        }
        change(it->second);
        it->second.state = stateOf(it->second);
    }
    notify({DeviceChange::Kind::Changed, address});
}

void DeviceManager::forget(const PciAddress& address)
{
    {
        std::lock_guard lock(mutex);
        if (devices.erase(address) == 0)
        {
            return;
        }
    }
    persist(address); // a vanished device keeps no record
    notify({DeviceChange::Kind::Removed, address});
}

void DeviceManager::recordError(const PciAddress& address, const Error& error)
{
    update(address, [&error](DeviceInfo& info) {
        info.lastError = error.what();
        info.unrecorded = false;
    });
    try
    {
        refresh(address); // a rollback may have changed the driver
    }
    catch (const std::exception&)
    {
        // The original error is the one worth reporting.
    }
}

void DeviceManager::succeeded(const PciAddress& address)
{
    update(address, [](DeviceInfo& info) {
        // A record the ledger could not keep stays visible: the operation
        // worked, but a restart would not know about it.
        if (!info.unrecorded)
        {
            info.lastError.clear();
        }
    });
    refresh(address);
}

void DeviceManager::notify(const DeviceChange& change)
{
    std::vector<Listener> current;
    {
        std::lock_guard lock(mutex);
        current = listeners;
    }
    for (const auto& listener : current)
    {
        listener(change);
    }
}

} // namespace vfiod
