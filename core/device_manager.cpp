#include "device_manager.hpp"

#include "iommu_group.hpp"
#include "reset.hpp"

namespace vfiod
{

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

/** Holds one IOMMU group's operation lock for the length of a scope. */
class DeviceManager::GroupLock
{
  public:
    GroupLock(std::shared_ptr<std::timed_mutex> mutex,
              std::chrono::milliseconds wait, const std::string& what) :
        mutex(std::move(mutex))
    {
        if (!this->mutex->try_lock_for(wait))
        {
            fail(Errc::Busy, "another operation on " + what +
                                 " is still in progress");
        }
    }
    ~GroupLock()
    {
        mutex->unlock();
    }
    GroupLock(const GroupLock&) = delete;
    GroupLock& operator=(const GroupLock&) = delete;

  private:
    std::shared_ptr<std::timed_mutex> mutex;
};

DeviceManager::DeviceManager(KernelHost& host, ManagerOptions options) :
    host(host), options(options), calls(host),
    binder(host, calls, options.timeouts)
{}

DeviceManager::~DeviceManager() = default;

void DeviceManager::subscribe(Listener listener)
{
    std::lock_guard lock(mutex);
    listeners.push_back(std::move(listener));
}

void DeviceManager::enumerate()
{
    for (const auto& address : listPciDevices(host))
    {
        refresh(address);
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

DeviceManager::GroupLock DeviceManager::lockGroupOf(const PciAddress& address)
{
    DeviceInfo device = known(address);
    std::string key = device.pci.iommuGroup >= 0
                          ? "IOMMU group " +
                                std::to_string(device.pci.iommuGroup)
                          : "device " + address.str();
    std::shared_ptr<std::timed_mutex> groupMutex;
    {
        std::lock_guard lock(mutex);
        auto& slot = groupMutexes[key];
        if (!slot)
        {
            slot = std::make_shared<std::timed_mutex>();
        }
        groupMutex = slot;
    }
    return GroupLock(std::move(groupMutex), options.groupLockWait, key);
}

void DeviceManager::bindLocked(const PciAddress& address,
                               const std::string& driver)
{
    BindOutcome outcome = binder.bindToVfio(address, driver);
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
}

void DeviceManager::bind(const PciAddress& address, const std::string& driver)
{
    GroupLock lock = lockGroupOf(address);
    try
    {
        DeviceInfo device = known(address);
        if (device.state == DeviceState::Assigned && !driver.empty() &&
            driver != device.pci.driver)
        {
            fail(Errc::Busy, address.str() + " is assigned to " +
                                 device.owner + "; release it first");
        }
        bindLocked(address, driver);
    }
    catch (const Error& e)
    {
        recordError(address, e);
        throw;
    }
    succeeded(address);
}

void DeviceManager::unbind(const PciAddress& address)
{
    GroupLock lock = lockGroupOf(address);
    try
    {
        requireUnassigned(address);
        binder.giveBack(address, known(address).originalDriver);
    }
    catch (const Error& e)
    {
        recordError(address, e);
        throw;
    }
    update(address, [](DeviceInfo& info) { info.originalDriver.reset(); });
    succeeded(address);
}

void DeviceManager::assign(const PciAddress& address, const std::string& owner,
                           const std::string& driver)
{
    requireUnassigned(address); // answer at once, without queueing
    GroupLock lock = lockGroupOf(address);
    try
    {
        requireUnassigned(address);
        bindLocked(address, driver);
        DeviceInfo device = known(address);
        requireViableGroup(host, address, device.pci.iommuGroup);
    }
    catch (const Error& e)
    {
        recordError(address, e);
        throw;
    }
    update(address, [&owner](DeviceInfo& info) { info.owner = owner; });
    succeeded(address);
}

void DeviceManager::release(const PciAddress& address, const std::string& owner)
{
    GroupLock lock = lockGroupOf(address);
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
    update(address, [](DeviceInfo& info) { info.owner.clear(); });
    succeeded(address);
}

void DeviceManager::reset(const PciAddress& address, const std::string& method)
{
    GroupLock lock = lockGroupOf(address);
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
    {
        std::lock_guard lock(mutex);
        auto [it, added] = devices.try_emplace(address);
        DeviceInfo& info = it->second;
        info.pci = std::move(pci);
        if (!isVfioDriver(info.pci.driver) && info.owner.empty())
        {
            // Someone else took it off vfio: vfiod no longer manages it.
            info.originalDriver.reset();
        }
        info.state = stateOf(info);
        if (added)
        {
            change.kind = DeviceChange::Kind::Added;
        }
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
    notify({DeviceChange::Kind::Removed, address});
}

void DeviceManager::recordError(const PciAddress& address, const Error& error)
{
    update(address,
           [&error](DeviceInfo& info) { info.lastError = error.what(); });
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
    update(address, [](DeviceInfo& info) { info.lastError.clear(); });
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
