// The write dispatcher: which file a path is and whether it may be
// written, then the store function of its kind (sim_device_writes.hpp,
// sim_bus_writes.hpp, sim_migration.hpp); and the device lock those share.
#include "sim/sim_writes.hpp"

#include "sim/sim_bus_writes.hpp"
#include "sim/sim_device_writes.hpp"
#include "sim/sim_sysfs.hpp"

#include <cerrno>

namespace vfiod::sim
{

namespace
{

/** @brief A Step that waits for @p device's pending operation. */
Step waitFor(const Device& device, Step::Kind kind)
{
    Step step;
    step.kind = kind;
    step.device = device.address;
    step.pendingId = device.pending.id;
    step.readyAtMs = device.pending.readyAtMs;
    return step;
}

} // namespace

std::optional<Step> waitIfLocked(const Device& device)
{
    if (device.pending.kind == PendingKind::None)
    {
        return std::nullopt;
    }
    return waitFor(device, Step::Kind::WaitUnlocked);
}

std::optional<Step> waitIfReadLocked(const Model& model, const SysEntry& entry)
{
    if (entry.type != SysEntry::Type::File ||
        entry.dir.at != SysDir::At::Device ||
        (entry.name != "driver_override" && entry.name != "sriov_numvfs"))
    {
        return std::nullopt;
    }
    const Device* device = findDevice(model, entry.dir.address);
    return device ? waitIfLocked(*device) : std::nullopt;
}

Step startPending(Tx& tx, Device& device, PendingKind kind, unsigned delayMs)
{
    device.pending.kind = kind;
    device.pending.id = tx.model.nextPendingId++;
    device.pending.readyAtMs = tx.nowMs + delayMs;
    tx.changed = true;
    return waitFor(device, Step::Kind::WaitCompleted);
}

Step applyWrite(Tx& tx, const std::string& path, std::string_view value,
                WriteMemory& memory)
{
    std::optional<SysEntry> entry = lookup(tx.model, path);
    if (!entry)
    {
        return Step::done(ENOENT);
    }
    if (entry->type == SysEntry::Type::Dir ||
        entry->type == SysEntry::Type::Link)
    {
        return Step::done(EISDIR);
    }
    if (!entry->writable)
    {
        return Step::done(EACCES);
    }
    switch (entry->dir.at)
    {
        case SysDir::At::Device:
            return writeDevice(tx, *entry, value);
        case SysDir::At::BusPci:
            return writeDriversProbe(tx, value);
        case SysDir::At::Driver:
        {
            Driver* driver = findDriver(tx.model, entry->dir.name);
            if (driver == nullptr)
            {
                return Step::done(ENODEV);
            }
            return writeDriverFile(tx, *driver, entry->name, value, memory);
        }
        default:
            return Step::done(EACCES);
    }
}

} // namespace vfiod::sim
