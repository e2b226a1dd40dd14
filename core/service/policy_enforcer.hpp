#pragma once

#include "config/daemon_config.hpp"
#include "config/policy.hpp"
#include "service/device_manager.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace vfiod
{

class DeviceService;

/** @brief What applying the policy to one device did, for the log. */
struct PolicyOutcome
{
    std::vector<std::string> notes;    ///< what was done, info level
    std::vector<std::string> failures; ///< what failed, warning level
};

/** @brief Explain: the rule and what vfiod does or would do. */
struct PolicyReport
{
    PolicyExplanation explanation;
    /// The vfio driver an autobind would use ("" without autobind).
    std::string driver;
    /// One sentence: "binds to vfio-pci when it appears", ...
    std::string plan;
};

/**
 * @brief Carries out the administrator's policy on the devices of a
 * DeviceManager: binding marked devices as they appear, keeping SR-IOV VFs
 * that are wanted on vfio away from host drivers, the on-release steps, and
 * the per-device choices (reset method, who may assign).
 *
 * The policy is replaced as a whole (setPolicy) and read as a snapshot, so
 * a reload never mixes two policies in one decision. Thread-safe; apply()
 * blocks like DeviceManager's operations, on a worker.
 */
class PolicyEnforcer
{
  public:
    /** @brief Autobinds go through @p service like a Bind: with the
     *  device's plugin around them, under its IOMMU group's hold. */
    PolicyEnforcer(DeviceManager& manager, DeviceService& service);

    void setPolicy(std::shared_ptr<const Policy> policy);
    std::shared_ptr<const Policy> policy() const;

    /**
     * @brief Applies the policy to one device, as it appears or at
     * start-up: on a PF, turns VF autoprobe off when its VFs are wanted on
     * vfio; on a device a rule marks for vfio and still on its host driver,
     * binds it (with the rest of its IOMMU group when the policy marks all
     * of them); on a VF nobody wants on vfio whose PF vfiod stopped from
     * autoprobing, probes its host driver as the kernel would have.
     *
     * A failed autobind leaves the device on its original driver; the
     * reason is in the outcome and in the device's LastError.
     */
    PolicyOutcome apply(const PciAddress& address);

    /**
     * @brief The on-release steps of the device's rule: reset (when the
     * device has a reset method), then back to the host driver or not.
     */
    PolicyOutcome afterRelease(const PciAddress& address);

    /** @throws Error(Errc::NotFound) for an unknown device. */
    PolicyReport explain(const PciAddress& address) const;

    /**
     * @brief The reset method to use: @p requested when given, otherwise
     * the rule's preferred method when the device offers it, otherwise ""
     * (the kernel's order).
     */
    std::string resetMethodFor(const PciAddress& address,
                               const std::string& requested) const;

    /** @brief Who the device's rule lets assign it (beyond [access]). */
    AccessConfig assignersOf(const PciAddress& address) const;

  private:
    bool wantsVfsOnVfio(const Policy& policy, const PciDevice& pf) const;
    void prepareSriov(const Policy& policy, const DeviceInfo& device,
                      PolicyOutcome& outcome);
    void probeUnwantedVf(const DeviceInfo& device, PolicyOutcome& outcome);
    bool groupAllMarked(const Policy& policy, const DeviceInfo& device) const;
    void autobind(const Policy& policy, const PolicyRule& rule,
                  const DeviceInfo& device, PolicyOutcome& outcome);
    void returnToHost(const DeviceInfo& device, PolicyOutcome& outcome);

    DeviceManager& manager;
    DeviceService& service;
    mutable std::mutex mutex; ///< guards current and quietedPfs
    std::shared_ptr<const Policy> current;
    /// PFs whose sriov_drivers_autoprobe vfiod turned off: only their VFs
    /// are probed by vfiod in the kernel's place, and only theirs are
    /// turned back on when the policy no longer wants their VFs.
    std::set<PciAddress> quietedPfs;
};

} // namespace vfiod
