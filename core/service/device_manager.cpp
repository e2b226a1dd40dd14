#include "service/device_manager.hpp"

#include "kernel/sysfs_layout.hpp"
#include "pci/pci_device.hpp"
#include "pci/vfio_holders.hpp"

#include <set>

namespace vfiod
{

ManagerOptions managerOptions(const DaemonConfig& config)
{
    ManagerOptions options;
    options.timeouts = config.timeouts;
    options.groupLockWait = config.groupWait;
    return options;
}

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
    host(host),
    options(options), calls(host, std::move(stuck)),
    binder(host, calls, options.timeouts)
{}

DeviceManager::~DeviceManager()
{
    joinFinishers();
}

void DeviceManager::joinFinishers()
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

std::vector<std::pair<PciAddress, std::string>> DeviceManager::enumerate()
{
    std::set<PciAddress> recorded;
    if (ledger != nullptr)
    {
        for (const auto& [address, record] : ledger->load())
        {
            recorded.insert(address);
        }
    }
    std::vector<std::pair<PciAddress, std::string>> skipped;
    for (const auto& address : listPciDevices(host))
    {
        try
        {
            awaitDeviceLock(address, recorded.contains(address));
            refresh(address);
        }
        catch (const Error& e)
        {
            skipped.emplace_back(address, e.what());
        }
    }
    return skipped;
}

void DeviceManager::awaitDeviceLock(const PciAddress& address, bool recorded)
{
    // A vfiod that died in a sequence may have left an unbind in flight
    // (the kernel finishes it), holding the device lock until every
    // process closes the device: only a device on vfio, or one vfiod
    // recorded, can be in that state. Its lock is waited for with a
    // timeout; past it the device stays marked stuck, so the reads below
    // skip what takes the lock and requests get Busy until the kernel
    // lets go.
    std::string driver =
        host.readLinkName(sysfs::deviceAttr(address, "driver")).value_or("");
    if (!recorded && !isVfioDriver(driver))
    {
        return;
    }
    auto device = std::make_shared<PciDevice>();
    device->address = address;
    KernelHost* kernel = &host;
    try
    {
        calls.run(
            address,
            [kernel, device] { readLockedAttributes(*kernel, *device); },
            options.timeouts.unbind, "reading driver_override");
    }
    catch (const std::exception&)
    {
        // Timed out: marked stuck. Anything else: the read below reports.
    }
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

std::vector<VfioHolder> DeviceManager::holders(const PciAddress& address)
{
    return holdersOf(host, known(address).pci);
}

std::vector<VfioHolder> DeviceManager::recentHolders(const PciAddress& address)
{
    DeviceInfo device = known(address);
    if (!isVfioDriver(device.pci.driver))
    {
        return {};
    }
    std::vector<VfioHolder> all;
    {
        std::lock_guard lock(holderScan.mutex);
        auto now = std::chrono::steady_clock::now();
        if (!holderScan.valid ||
            now - holderScan.taken > std::chrono::seconds(1))
        {
            holderScan.holders = host.vfioHolders();
            holderScan.taken = now;
            holderScan.valid = true;
        }
        all = holderScan.holders;
    }
    return holdersOf(host, device.pci, std::move(all));
}

void DeviceManager::requireNotHeld(const PciAddress& address,
                                   const std::string& what)
{
    std::vector<VfioHolder> found = holders(address);
    if (!found.empty())
    {
        fail(Errc::InUse, what + ": " + address.str() + " is " +
                              describeHolders(found) +
                              ", which vfiod did not give it to; stop that "
                              "process first (root may pass force)");
    }
}

DeviceManager::GroupHold DeviceManager::holdGroup(const PciAddress& address)
{
    int group = -1;
    if (!peek(address, [&group](const DeviceInfo& info) {
            group = info.pci.iommuGroup;
        }))
    {
        fail(Errc::NotFound, "no PCI device " + address.str());
    }
    std::string key = group >= 0 ? "IOMMU group " + std::to_string(group)
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
    if (event.action == "unbind")
    {
        finishIfPending(address);
    }
}

void DeviceManager::refresh(const PciAddress& address,
                            const std::function<void(DeviceInfo&)>& change)
{
    // A kernel call blocked on the device holds its device lock: what
    // only the lock gives is kept from before rather than waited for, so
    // neither a request's error path nor the uevent lane sits in D state.
    bool locked = calls.isStuck(address);
    PciDevice pci;
    try
    {
        pci = readPciDevice(host, address,
                            locked ? LockedReads::Skip : LockedReads::Read);
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

    DeviceChange changed{DeviceChange::Kind::Changed, address};
    bool released = false;
    {
        std::lock_guard lock(mutex);
        auto [it, added] = devices.try_emplace(address);
        DeviceInfo& info = it->second;
        if (locked)
        {
            pci.driverOverride = info.pci.driverOverride;
            pci.sriovNumVfs = info.pci.sriovNumVfs;
        }
        info.pci = std::move(pci);
        if (change)
        {
            change(info);
        }
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
            changed.kind = DeviceChange::Kind::Added;
        }
    }
    if (released)
    {
        persist(address);
    }
    notify(changed);
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
    // One change for the bus: the device as the kernel has it now, without
    // the last error. A record the ledger could not keep stays visible:
    // the operation worked, but a restart would not know about it.
    auto clearError = [](DeviceInfo& info) {
        if (!info.unrecorded)
        {
            info.lastError.clear();
        }
    };
    try
    {
        refresh(address, clearError);
    }
    catch (...)
    {
        update(address, clearError);
        throw;
    }
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
