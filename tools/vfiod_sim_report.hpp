#pragma once

#include "base/pci_address.hpp"
#include "sim/sim_host.hpp"

#include <string>

/** @brief What vfiod-sim prints about the simulated host, on stdout. */
namespace vfiod_sim
{

/** @brief `list`: one line per device. */
void listDevices(vfiod::SimHost& host);

/**
 * @brief `show`: every attribute and link of a device.
 * @throws ToolError when there is no such device.
 */
void showDevice(vfiod::SimHost& host, const vfiod::PciAddress& address);

/** @brief `events`: the uevent log of the state in @p stateDir. */
void printEvents(const std::string& stateDir);

} // namespace vfiod_sim
