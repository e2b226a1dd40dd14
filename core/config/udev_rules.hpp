#pragma once

#include "config/policy.hpp"
#include "pci/pci_device.hpp"

#include <string>
#include <string_view>
#include <vector>

/*
 * udev rules generated from the policy, written to /run/udev/rules.d.
 *
 * They set driver_override the moment a PCI device is added, before
 * 80-drivers.rules loads a host driver module for it (as driverctl's
 * early rule does), so a device the policy wants on vfio is not grabbed by
 * a host driver that loads later; vfiod then binds it and verifies. A host
 * driver that is loaded already probes the device inside the kernel's
 * device_add, before any rule runs: vfiod takes the device off it then,
 * and for SR-IOV VFs it turns the PF's sriov_drivers_autoprobe off so that
 * no VF is probed at all before vfiod has seen it.
 *
 * The policy's first-match order is kept with GOTO: each rule's line ends
 * the file for the devices it matches, whether it binds them or not.
 * Selectors udev cannot test at add time are handled so that udev never
 * claims a device the policy would not: "driver" cannot match a device
 * that was just added (it has none), so such a rule is left out; "slot" and
 * class masks that are not whole hex digits cannot be written as udev
 * matches, so such a rule becomes a guard that matches a superset and binds
 * nothing, leaving the decision to vfiod after the add.
 */

namespace vfiod
{

/** @brief The name of the generated file in the rules directory. */
inline constexpr std::string_view udevRulesFileName = "70-vfiod.rules";

/**
 * @brief The rules for @p policy. @p devices are the devices present: a
 * "pf" selector becomes the addresses of that PF's VFs (from its offset
 * and stride), so the PF must be among them.
 */
std::string generateUdevRules(const Policy& policy,
                              const std::vector<PciDevice>& devices);

/**
 * @brief Writes @p text to DIR/70-vfiod.rules atomically (temporary file,
 * fsync, rename), unless it holds that text already. udevd notices changed
 * rule files by itself. Anything but a regular file at that name (a
 * planted symlink, say) is neither followed nor read, and is replaced.
 * @return whether the file changed.
 * @throws Error(Errc::Failed) naming the file.
 */
bool writeUdevRules(const std::string& dir, const std::string& text);

} // namespace vfiod
