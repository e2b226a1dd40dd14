#pragma once

#include "sim/sim_writes.hpp"

#include <string_view>

/**
 * @brief Writes below /sys/bus/pci that name a device or an id rather
 * than being one: drivers_probe, and each driver's bind, unbind, new_id
 * and remove_id, as drivers/base/bus.c and drivers/pci/pci-driver.c store
 * them.
 */
namespace vfiod::sim
{

/** @brief drivers_probe: the device a BDF names, to its first driver. */
Step writeDriversProbe(Tx& tx, std::string_view value);

/** @brief Applies one write of @p value to @p driver's file @p name. */
Step writeDriverFile(Tx& tx, Driver& driver, std::string_view name,
                     std::string_view value, WriteMemory& memory);

} // namespace vfiod::sim
