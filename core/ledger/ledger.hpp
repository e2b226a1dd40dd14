#pragma once

#include "base/fd.hpp"
#include "base/pci_address.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace vfiod
{

/**
 * @brief What vfiod remembers of a device it took from its original
 * driver, so that a restart (or a crash) never loses track of it.
 */
struct LedgerRecord
{
    PciAddress address;
    /// The driver before vfiod bound the device to vfio; "" when it had
    /// none.
    std::string originalDriver;
    std::string owner;      ///< the assignment's owner, "" when free
    std::string leaseToken; ///< lets the owner re-attach, "" when free
    /// Written before the kernel is asked to bind: the bind may not have
    /// happened (a crash in between). Cleared once the bind is verified.
    bool binding = false;

    bool operator==(const LedgerRecord&) const = default;
};

/**
 * @brief The ledger under the state directory: one small file per device,
 * DIR/devices/DDDD:BB:DD.F, each replaced atomically and durably (written
 * to a temporary file, fsynced, renamed, the directory fsynced), so a
 * crash at any point leaves the old record or the new one, never a mix.
 *
 * The state directory and DIR/devices must be directories, not symlinks:
 * a link there could lead the records into any file. DIR/devices is opened
 * once, and every record is read, written and removed relative to it;
 * a record is read only when it is a regular file of a sane size, without
 * following a link or waiting on a FIFO.
 *
 * Thread-safe. A write failure is thrown: the caller must not change the
 * kernel on the strength of a record that was not kept.
 */
class Ledger
{
  public:
    /** @brief Creates DIR and DIR/devices when missing.
     *  @throws Error(Errc::InvalidArgument) naming DIR or DIR/devices when
     *          it is a symlink or not a directory (vfiod does not start);
     *          Error(Errc::Failed) when it cannot be created or opened. */
    explicit Ledger(std::string stateDir);

    /**
     * @brief Every record on disk. A record that cannot be parsed, or is
     * not a regular file (a symlink, a FIFO, a directory), or is larger
     * than maxRecordBytes, is reported in @p damaged (file name and why)
     * and left in place for the administrator, never guessed at.
     * @throws Error(Errc::Failed) when the directory cannot be read.
     */
    std::map<PciAddress, LedgerRecord>
        load(std::map<std::string, std::string>* damaged = nullptr) const;

    /** @throws Error(Errc::Failed) naming the file. */
    void put(const LedgerRecord& record);

    /** @brief Removes the record's name (a symlink there is removed, not
     *  followed); no record is fine.
     *  @throws Error(Errc::Failed) naming the file. */
    void erase(const PciAddress& address);

    const std::string& directory() const noexcept
    {
        return dir;
    }

  private:
    std::string dir;
    UniqueFd devices;         ///< dir, opened without following a link
    mutable std::mutex mutex; ///< orders writes of one process
};

/// A record is a few hundred bytes: anything much larger is not one, and
/// is not read into memory.
inline constexpr size_t maxRecordBytes = 64 * 1024;

/**
 * @brief The refusals of Ledger's constructor and nothing else: a missing
 * directory is fine, and nothing is created. For a start-up that writes
 * other things in the state directory before it opens the ledger (the
 * simulated kernel of vfiod --sim), so that nothing is written through a
 * link there either.
 * @throws Error(Errc::InvalidArgument) as Ledger's constructor.
 */
void requireLedgerDirectories(const std::string& stateDir);

/** @brief The record as text (key=value lines), and back.
 *  @throws Error(Errc::InvalidArgument) for text that is not a record. */
std::string formatLedgerRecord(const LedgerRecord& record);
LedgerRecord parseLedgerRecord(const std::string& text);

/** @brief A fresh random lease token (128 bits, hex). */
std::string newLeaseToken();

} // namespace vfiod
