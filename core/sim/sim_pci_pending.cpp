// PciBus's pending operations: the writes the kernel would block in,
// completed once what they wait for (a delay, the last close) is over.
#include "sim/sim_migration.hpp"
#include "sim/sim_pci_bus.hpp"

namespace vfiod::sim
{

bool PciBus::pendingReady(const Device& device, int64_t nowMs)
{
    switch (device.pending.kind)
    {
        case PendingKind::None:
            return false;
        case PendingKind::Unbind:
            return nowMs >= device.pending.readyAtMs && !isVfioOpen(device);
        case PendingKind::Reset:
            return nowMs >= device.pending.readyAtMs;
        case PendingKind::Remove:
            return !isVfioOpen(device) && !anyVfOpen(device);
        case PendingKind::DisableSriov:
            return !anyVfOpen(device);
    }
    return false;
}

bool PciBus::settle(int64_t nowMs)
{
    std::vector<PciAddress> waiting;
    for (const auto& [address, device] : model.devices)
    {
        if (device.pending.kind != PendingKind::None)
        {
            waiting.push_back(address);
        }
    }
    bool changed = false;
    for (const PciAddress& address : waiting)
    {
        // An earlier completion (a PF removing its VFs) may have removed it.
        Device* device = findDevice(model, address);
        if (device != nullptr && pendingReady(*device, nowMs))
        {
            completePending(address);
            changed = true;
        }
    }
    return changed;
}

void PciBus::completePending(const PciAddress& address)
{
    Device& device = *findDevice(model, address);
    PendingKind kind = device.pending.kind;
    device.pending = Pending{};
    switch (kind)
    {
        case PendingKind::None:
            break;
        case PendingKind::Unbind:
            detach(device);
            break;
        case PendingKind::Reset:
            ++device.resetCount;
            resetMigration(device);
            break;
        case PendingKind::Remove:
            removeDevice(address);
            break;
        case PendingKind::DisableSriov:
            disableSriov(device);
            break;
    }
}

} // namespace vfiod::sim
