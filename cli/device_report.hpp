#pragma once

#include "bus_client.hpp"
#include "commands.hpp"

#include <string>

namespace vfioctl
{

/**
 * @brief Confirms an operation by re-reading the device: with --json its
 * full object, otherwise "<address>: <what>: driver D, state S".
 *
 * Reading back rather than echoing the request shows what vfiod actually
 * did, e.g. which vfio variant driver it chose.
 */
void reportDevice(const GlobalOptions& options, BusClient& client,
                  const sdbus::ObjectPath& path, const std::string& what);

} // namespace vfioctl
