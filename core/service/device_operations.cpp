// DeviceManager's operations: each takes the device's IOMMU group hold,
// runs the binder's kernel sequence, and keeps the registry and the ledger
// in step with what the kernel did.
#include "binding/reset.hpp"
#include "pci/iommu_group.hpp"
#include "service/device_manager.hpp"

namespace vfiod
{

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
        calls.requireNotStuck(member); // its reads would block
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
        requireNoAssignedMember(address);
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

void DeviceManager::requireNoAssignedMember(const PciAddress& address)
{
    int group = known(address).pci.iommuGroup;
    if (group < 0)
    {
        return;
    }
    // A member leaving vfio for a host driver makes the group non-viable
    // under the guest that has the assigned one.
    for (const PciAddress& member : iommuGroupMembers(host, group))
    {
        std::string owner;
        if (member != address &&
            peek(member,
                 [&owner](const DeviceInfo& info) { owner = info.owner; }) &&
            !owner.empty())
        {
            fail(Errc::Busy,
                 address.str() + ": " + member.str() + " of its IOMMU group " +
                     std::to_string(group) + " is assigned to " + owner +
                     "; every member stays on vfio until it is "
                     "released");
        }
    }
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
        calls.requireNotStuck(address);
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
        calls.requireNotStuck(address); // before reads that would block
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

} // namespace vfiod
