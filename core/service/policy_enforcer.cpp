#include "service/policy_enforcer.hpp"

#include "base/error.hpp"
#include "kernel/sysfs_layout.hpp"
#include "pci/iommu_group.hpp"
#include "pci/vfio_holders.hpp"
#include "service/device_service.hpp"

#include <algorithm>

namespace vfiod
{

namespace
{

std::string ruleName(const PolicyRule& rule)
{
    return "rule \"" + rule.name + "\" (" + rule.file + ":" +
           std::to_string(rule.line) + ")";
}

/** @brief "auto" lets the binder pick the modules.alias best match. */
std::string requestedDriver(const PolicyActions& actions)
{
    return actions.bind == "auto" ? "" : actions.bind;
}

/**
 * @brief What a VF of @p pf will look like to a rule before it exists: the
 * PF's vendor, subsystem and class, the VF device id, its address and
 * index. Real VFs may differ in subsystem ids; a rule that tells VFs apart
 * by those still matches them once they appear (apply()).
 */
PciDevice futureVf(const PciDevice& pf, unsigned index,
                   const PciAddress& address)
{
    PciDevice vf;
    vf.address = address;
    vf.vendorId = pf.vendorId;
    vf.deviceId = pf.sriovVfDevice;
    vf.subsystemVendorId = pf.subsystemVendorId;
    vf.subsystemDeviceId = pf.subsystemDeviceId;
    vf.classCode = pf.classCode;
    vf.physfn = pf.address;
    vf.vfIndex = index;
    return vf;
}

} // namespace

PolicyEnforcer::PolicyEnforcer(DeviceManager& manager, DeviceService& service) :
    manager(manager), service(service),
    current(std::make_shared<const Policy>())
{}

void PolicyEnforcer::setPolicy(std::shared_ptr<const Policy> policy)
{
    std::lock_guard lock(mutex);
    current = policy ? std::move(policy) : std::make_shared<const Policy>();
}

std::shared_ptr<const Policy> PolicyEnforcer::policy() const
{
    std::lock_guard lock(mutex);
    return current;
}

bool PolicyEnforcer::wantsVfsOnVfio(const Policy& policy,
                                    const PciDevice& pf) const
{
    for (unsigned index = 0; index < pf.sriovTotalVfs; ++index)
    {
        std::optional<PciAddress> address = vfAddress(pf, index);
        if (!address)
        {
            break;
        }
        const PolicyRule* rule = policy.match(futureVf(pf, index, *address));
        if (rule != nullptr && !rule->actions.bind.empty())
        {
            return true;
        }
    }
    return false;
}

void PolicyEnforcer::prepareSriov(const Policy& policy,
                                  const DeviceInfo& device,
                                  PolicyOutcome& outcome)
{
    const PciDevice& pf = device.pci;
    if (!pf.sriovCapable || pf.isVirtfn() || pf.sriovTotalVfs == 0)
    {
        return;
    }
    bool wanted = wantsVfsOnVfio(policy, pf);
    {
        std::lock_guard lock(mutex);
        // Only a PF vfiod quieted is turned back on: an administrator's own
        // sriov_drivers_autoprobe=0 stays. One found off while wanted is
        // taken as vfiod's (from before a restart).
        if (wanted && !pf.sriovDriversAutoprobe)
        {
            quietedPfs.insert(pf.address);
            return;
        }
        if (!wanted &&
            (!quietedPfs.contains(pf.address) || pf.sriovDriversAutoprobe))
        {
            quietedPfs.erase(pf.address);
            return;
        }
    }
    try
    {
        // With autoprobe off, a new VF stays unbound until vfiod binds it:
        // it never meets the PF's VF driver first.
        manager.setVfAutoprobe(pf.address, !wanted);
    }
    catch (const Error& e)
    {
        outcome.failures.push_back(
            pf.address.str() + ": cannot set sriov_drivers_autoprobe: " +
            e.what() + "; its VFs may reach their host driver first");
        return;
    }
    {
        std::lock_guard lock(mutex);
        if (wanted)
        {
            quietedPfs.insert(pf.address);
        }
        else
        {
            quietedPfs.erase(pf.address);
        }
    }
    outcome.notes.push_back(
        pf.address.str() + ": VF driver autoprobe turned " +
        (wanted ? "off: the policy wants its VFs on vfio"
                : "back on: the policy no longer wants its VFs on vfio"));
}

void PolicyEnforcer::probeUnwantedVf(const DeviceInfo& device,
                                     PolicyOutcome& outcome)
{
    const PciDevice& vf = device.pci;
    if (!vf.isVirtfn() || !vf.driver.empty() || !vf.driverOverride.empty())
    {
        return;
    }
    {
        std::lock_guard lock(mutex);
        if (!quietedPfs.contains(*vf.physfn))
        {
            return;
        }
    }
    try
    {
        manager.probeHostDriver(vf.address);
        std::optional<DeviceInfo> now = manager.info(vf.address);
        outcome.notes.push_back(vf.address.str() +
                                ": not wanted on vfio, given its host driver " +
                                (now ? now->pci.driver : std::string("?")));
    }
    catch (const Error& e)
    {
        outcome.failures.push_back(vf.address.str() +
                                   ": host driver probe failed: " + e.what());
    }
}

bool PolicyEnforcer::groupAllMarked(const Policy& policy,
                                    const DeviceInfo& device) const
{
    int group = device.pci.iommuGroup;
    if (group < 0)
    {
        return false;
    }
    bool others = false;
    for (const PciAddress& member : iommuGroupMembers(manager.kernel(), group))
    {
        if (member == device.pci.address)
        {
            continue;
        }
        std::optional<DeviceInfo> info = manager.info(member);
        if (!info || info->pci.isBridge() || keepsGroupViable(info->pci.driver))
        {
            continue; // stays where it is without harm
        }
        const PolicyRule* rule = policy.match(info->pci);
        if (rule == nullptr || rule->actions.bind.empty())
        {
            return false;
        }
        others = true;
    }
    return others;
}

void PolicyEnforcer::autobind(const Policy& policy, const PolicyRule& rule,
                              const DeviceInfo& device, PolicyOutcome& outcome)
{
    const PciAddress& address = device.pci.address;
    bool wholeGroup = groupAllMarked(policy, device);
    try
    {
        service.bind({address, "autobind " + address.str()},
                     requestedDriver(rule.actions), wholeGroup);
        std::optional<DeviceInfo> now = manager.info(address);
        outcome.notes.push_back(address.str() + ": bound to " +
                                (now ? now->pci.driver : "vfio") +
                                (wholeGroup ? " with its IOMMU group" : "") +
                                " by " + ruleName(rule));
    }
    catch (const Error& e)
    {
        std::string why =
            "autobind by " + ruleName(rule) + " failed: " + e.what();
        outcome.failures.push_back(address.str() + ": " + why);
        std::optional<DeviceInfo> after = manager.info(address);
        if (after)
        {
            returnToHost(*after, outcome);
        }
        manager.setLastError(address, why);
    }
}

void PolicyEnforcer::returnToHost(const DeviceInfo& device,
                                  PolicyOutcome& outcome)
{
    // The binder rolled back to where the device was. When that was
    // "unbound, waiting for vfio" (driver_override set at add by the
    // generated udev rule, or a quieted PF's VF), the original driver is
    // the one the kernel would have picked: let it.
    const PciDevice& pci = device.pci;
    if (!pci.driver.empty() || device.state == DeviceState::Assigned)
    {
        return;
    }
    bool held =
        pci.driverOverride == "none" || isVfioDriver(pci.driverOverride);
    bool quietedVf = false;
    if (pci.isVirtfn())
    {
        std::lock_guard lock(mutex);
        quietedVf = quietedPfs.contains(*pci.physfn);
    }
    if (!held && !quietedVf)
    {
        return;
    }
    try
    {
        if (held)
        {
            manager.unbind(pci.address); // clears the override, probes
        }
        if (manager.info(pci.address) &&
            manager.info(pci.address)->pci.driver.empty())
        {
            manager.probeHostDriver(pci.address);
        }
        std::optional<DeviceInfo> now = manager.info(pci.address);
        outcome.notes.push_back(
            pci.address.str() + ": left to its host driver (" +
            (now && !now->pci.driver.empty() ? now->pci.driver : "none") + ")");
    }
    catch (const Error& e)
    {
        outcome.failures.push_back(
            pci.address.str() +
            ": cannot return it to a host driver: " + e.what());
    }
}

PolicyOutcome PolicyEnforcer::apply(const PciAddress& address)
{
    PolicyOutcome outcome;
    std::shared_ptr<const Policy> snapshot = policy();
    std::optional<DeviceInfo> device = manager.info(address);
    if (!device)
    {
        return outcome; // gone already
    }
    prepareSriov(*snapshot, *device, outcome);

    const PolicyRule* rule = snapshot->match(device->pci);
    if (rule == nullptr || rule->actions.bind.empty())
    {
        probeUnwantedVf(*device, outcome);
        return outcome;
    }
    if (device->state != DeviceState::Host)
    {
        return outcome; // on vfio already: nothing to do
    }
    if (device->pci.isBridge())
    {
        outcome.failures.push_back(address.str() + ": " + ruleName(*rule) +
                                   " marks a bridge, which vfio cannot take");
        return outcome;
    }
    autobind(*snapshot, *rule, *device, outcome);
    return outcome;
}

PolicyOutcome PolicyEnforcer::afterRelease(const PciAddress& address)
{
    PolicyOutcome outcome;
    std::optional<DeviceInfo> device = manager.info(address);
    if (!device || device->state == DeviceState::Assigned)
    {
        return outcome; // gone, or assigned again meanwhile
    }
    PolicyExplanation explained = policy()->explain(device->pci);
    const PolicyActions& actions = explained.actions;
    bool steps =
        (actions.resetOnRelease && !device->pci.resetMethods.empty()) ||
        actions.onRelease == OnRelease::Host;
    if (std::vector<VfioHolder> held = manager.holders(address);
        steps && !held.empty())
    {
        // The lease is over but a VMM still has the device: a reset would
        // hit its guest, and an unbind would block until it quits.
        std::string why = address.str() +
                          ": not reset or given back after "
                          "release: " +
                          describeHolders(held);
        manager.setLastError(address, why);
        outcome.failures.push_back(why);
        return outcome;
    }
    if (actions.resetOnRelease && !device->pci.resetMethods.empty())
    {
        try
        {
            manager.reset(address, resetMethodFor(address, ""));
            outcome.notes.push_back(address.str() + ": reset after release");
        }
        catch (const Error& e)
        {
            outcome.failures.push_back(
                address.str() + ": reset after release failed: " + e.what());
        }
    }
    if (actions.onRelease == OnRelease::Host)
    {
        try
        {
            manager.unbind(address);
            std::optional<DeviceInfo> now = manager.info(address);
            outcome.notes.push_back(address.str() + ": returned to " +
                                    (now && !now->pci.driver.empty()
                                         ? now->pci.driver
                                         : "no driver") +
                                    " after release");
        }
        catch (const Error& e)
        {
            outcome.failures.push_back(address.str() +
                                       ": return to the host driver after "
                                       "release failed: " +
                                       e.what());
        }
    }
    return outcome;
}

PolicyReport PolicyEnforcer::explain(const PciAddress& address) const
{
    std::optional<DeviceInfo> device = manager.info(address);
    if (!device)
    {
        fail(Errc::NotFound, "no PCI device " + address.str());
    }
    PolicyReport report;
    report.explanation = policy()->explain(device->pci);
    const PolicyExplanation& explained = report.explanation;
    const PolicyActions& actions = explained.actions;
    if (!explained.matched)
    {
        report.plan = "no rule matches: vfiod leaves it where it is";
        return report;
    }
    if (actions.bind.empty())
    {
        report.plan = "the rule does not bind it: vfiod leaves it where it is";
        return report;
    }
    if (device->pci.isBridge())
    {
        report.plan = "a bridge: vfio cannot take it, nothing is done";
        return report;
    }
    try
    {
        report.driver =
            manager.chooseVfioDriver(address, requestedDriver(actions));
    }
    catch (const Error& e)
    {
        report.plan = std::string("cannot bind: ") + e.what();
        return report;
    }
    if (device->state != DeviceState::Host)
    {
        report.plan = "on " + device->pci.driver +
                      " already; vfiod binds it to " + report.driver +
                      " whenever it appears on a host driver";
        return report;
    }
    report.plan = "binds it to " + report.driver + " (from " +
                  (device->pci.driver.empty() ? std::string("no driver")
                                              : device->pci.driver) +
                  ") at start-up and whenever it appears";
    return report;
}

std::string PolicyEnforcer::resetMethodFor(const PciAddress& address,
                                           const std::string& requested) const
{
    if (!requested.empty())
    {
        return requested;
    }
    std::optional<DeviceInfo> device = manager.info(address);
    if (!device)
    {
        return "";
    }
    std::string preferred = policy()->explain(device->pci).actions.resetMethod;
    const auto& offered = device->pci.resetMethods;
    if (std::find(offered.begin(), offered.end(), preferred) == offered.end())
    {
        return ""; // not offered by this device: the kernel's order
    }
    return preferred;
}

AccessConfig PolicyEnforcer::assignersOf(const PciAddress& address) const
{
    std::optional<DeviceInfo> device = manager.info(address);
    if (!device)
    {
        return {};
    }
    PolicyActions actions = policy()->explain(device->pci).actions;
    return {actions.users, actions.groups};
}

} // namespace vfiod
