#pragma once

#include "base/pci_address.hpp"

#include <array>
#include <string>
#include <string_view>

namespace vfiod::toml_reader
{
struct NameRule;
}

/**
 * @brief Where the kernel keeps PCI things in sysfs, in one place.
 *
 * Every sysfs path vfiod uses is built here from validated parts, so a
 * hostile driver name or address can never walk out of the sysfs root.
 */
namespace vfiod::sysfs
{

inline constexpr std::string_view pciDevices = "bus/pci/devices";
inline constexpr std::string_view pciDrivers = "bus/pci/drivers";
inline constexpr std::string_view driversProbe = "bus/pci/drivers_probe";
inline constexpr std::string_view pciSlots = "bus/pci/slots";

/**
 * @brief The reset methods a device's reset_method attribute takes:
 * pci_reset_fn_methods[] in drivers/pci/pci.c, highest priority first.
 */
inline constexpr std::array<std::string_view, 7> resetMethods = {
    "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus",
};

/** @brief "bus/pci/devices/0000:03:00.0". */
std::string devicePath(const PciAddress& address);

/** @brief "bus/pci/devices/0000:03:00.0/<attr>"; attr is a constant. */
std::string deviceAttr(const PciAddress& address, std::string_view attr);

/**
 * @brief Whether a name can be a kernel driver or module name: 1 to 64 of
 * [A-Za-z0-9_-], which rules out "/", "." and "..".
 */
bool isValidDriverName(std::string_view name) noexcept;

/**
 * @brief isValidDriverName() as a rule for the TOML files that name
 * drivers (policy.d, the simulated host), so they word it alike.
 */
extern const toml_reader::NameRule driverNameRule;

/**
 * @brief "bus/pci/drivers/<driver>".
 * @throws Error(Errc::InvalidArgument) for an invalid driver name.
 */
std::string driverPath(std::string_view driver);

/** @brief "bus/pci/drivers/<driver>/<file>" (bind, unbind, new_id...). */
std::string driverFile(std::string_view driver, std::string_view file);

/** @brief "kernel/iommu_groups/<group>/devices". */
std::string iommuGroupDevices(int group);

/** @brief "module/<module>/drivers". */
std::string moduleDrivers(std::string_view module);

/** @brief The group's VFIO device node relative to /dev: "vfio/<group>". */
std::string vfioGroupNode(int group);

/** @brief Removes one trailing newline and surrounding blanks. */
std::string trim(std::string_view text);

} // namespace vfiod::sysfs
