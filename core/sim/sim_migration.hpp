#pragma once

#include "sim/sim_writes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

/**
 * @brief A simulated VFIO migration driver (what mlx5_vfio_pci or
 * hisi_acc_vfio_pci do in the kernel), reached through non-kernel device
 * attributes, listed nowhere, present on devices with migration flags:
 *
 *   sim_migration_flags      VFIO_MIGRATION_* bits, decimal (read)
 *   sim_migration_state      the state's kernel name; writing a name
 *                            performs ONE arc, or fails with EINVAL
 *   sim_migration_data_size  MIG_DATA_SIZE: the stop-copy stream length
 *   sim_migration_contents   the device's "memory": a number the state
 *                            stream is generated from (read/write)
 *   sim_migration_data       the data fd of the current stream, opened
 *                            with SimHost::openAttribute (read in
 *                            PRE_COPY(_P2P)/STOP_COPY, write in RESUMING)
 *
 * The stream lives in the state directory (migration/<address>), so any
 * process sees it: header (magic "VFIODSIM", version, vendor, device,
 * contents, payload length), payload generated from the header, FNV-1a
 * checksum of everything before it. On PRE_COPY the header and half the
 * payload are there at once; the rest is appended on the way to
 * STOP_COPY, in the same file, as the kernel continues the same data_fd.
 */
namespace vfiod::sim
{

inline constexpr std::string_view migrationPrefix = "sim_migration_";

/** @brief Header + payload + checksum bytes for a state of @p size. */
uint64_t streamLength(uint64_t stateSize) noexcept;

/** @brief The whole stream @p device would produce right now. */
std::string generateStream(const Device& device);

/**
 * @brief Checks a stream written to @p device in RESUMING.
 * @return the contents it carries, or the errno the driver fails
 *         RESUMING -> STOP with: EINVAL for a header that is not for this
 *         device (nothing loaded, it stays in RESUMING), EFAULT for a
 *         corrupt body (half loaded: the device goes to ERROR).
 */
std::variant<uint64_t, int> verifyStream(const Device& device,
                                         std::string_view stream);

/** @brief Reading a sim_migration_* attribute ("" when not one). */
std::optional<std::string> migrationAttribute(const Device& device,
                                              std::string_view name);

/** @brief Writing sim_migration_state or sim_migration_contents. */
Step writeMigration(Tx& tx, Device& device, std::string_view name,
                    std::string_view value);

/** @brief Where @p device's stream lives below the state directory. */
std::string streamPath(const std::string& stateDir, const PciAddress& address);

/** @brief What a VFIO reset does to the migration state: RUNNING again. */
void resetMigration(Device& device) noexcept;

} // namespace vfiod::sim
