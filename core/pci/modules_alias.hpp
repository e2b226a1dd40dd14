#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vfiod
{

class KernelHost;

/**
 * @brief The vfio variant module that best matches a device, the way
 * libvirt's virPCIDeviceFindBestVFIOVariant picks it: replace the "pci:"
 * prefix of the device's modalias with "vfio_pci:", match it against every
 * "alias vfio_pci:..." line of modules.alias, and take the match with the
 * fewest wildcards ('*' and '?').
 *
 * @return the module name (e.g. "mlx5_vfio_pci", or "vfio_pci" for the
 *         generic catch-all), std::nullopt when nothing matches.
 */
std::optional<std::string> bestVfioModule(std::string_view modulesAlias,
                                          std::string_view modalias);

/**
 * @brief The host driver module that best matches a device: its modalias
 * against the "alias pci:..." lines, fewest wildcards first, as udev's
 * kmod builtin would load it. vfio_pci: lines never match.
 */
std::optional<std::string> bestHostModule(std::string_view modulesAlias,
                                          std::string_view modalias);

/**
 * @brief The PCI driver name a module registers: looked up in
 * /sys/module/<module>/drivers ("pci:<name>") once the module is loaded,
 * else the kernel's naming (vfio_pci registers "vfio-pci"; variants use
 * their module name).
 */
std::string pciDriverOfModule(KernelHost& host, const std::string& module);

} // namespace vfiod
