#pragma once

#include "bus_client.hpp"

#include <memory>
#include <optional>
#include <string>

namespace vfioctl
{

/**
 * @brief The watch behind BusClient::watchMigration: @p device's
 * MigrationProgress signals go to @p handler, and SIGINT or SIGTERM cancel
 * its migration, until the watch is destroyed.
 * @param[in] address the bus vfioctl uses (nullopt: the system bus); the
 *            watch opens connections of its own to it.
 * @throws CliError(failed) when the bus or the signals cannot be set up.
 */
std::unique_ptr<BusClient::MigrationWatch>
    startMigrationWatch(const std::optional<std::string>& address,
                        const sdbus::ObjectPath& device,
                        ProgressHandler handler);

} // namespace vfioctl
