#include "sim/sim_host_actions.hpp"

#include "base/error.hpp"
#include "sim/sim_device_writes.hpp"
#include "sim/sim_host_file.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace vfiod::sim
{

namespace
{

Device& existingDevice(Tx& tx, const PciAddress& address, const char* what)
{
    Device* d = findDevice(tx.model, address);
    if (d == nullptr)
    {
        fail(Errc::NotFound, std::string("cannot ") + what + " " +
                                 address.str() + ": no such device");
    }
    return *d;
}

} // namespace

void plugDevice(Tx& tx, const std::string& deviceToml)
{
    Device device = parseDeviceText(deviceToml, "hot-add", tx.model);
    if (findDevice(tx.model, device.address) != nullptr)
    {
        fail(Errc::Busy, "cannot hot-add " + device.address.str() +
                             ": the address is taken");
    }
    tx.bus.addDevice(std::move(device));
    tx.changed = true;
}

Step unplugDevice(Tx& tx, const PciAddress& address)
{
    return startRemoval(tx, existingDevice(tx, address, "remove"));
}

void openThroughVfio(Tx& tx, const PciAddress& address,
                     const std::string& opener)
{
    Device& d = existingDevice(tx, address, "open");
    if (!isVfioDriverName(d.driver))
    {
        fail(Errc::Failed,
             "cannot open " + address.str() + " through vfio: it is bound to " +
                 (d.driver.empty() ? std::string("no driver") : d.driver));
    }
    if (d.pending.kind != PendingKind::None)
    {
        fail(Errc::Busy, "cannot open " + address.str() +
                             ": it is being unbound or removed");
    }
    // VFIO_GROUP_SET_CONTAINER refuses a group that is not viable.
    if (const Device* blocker = tx.bus.viabilityBlocker(d.iommuGroup, &d))
    {
        fail(Errc::NotViable,
             "cannot open " + address.str() + ": IOMMU group " +
                 std::to_string(d.iommuGroup) + " is not viable, " +
                 blocker->address.str() + " is bound to " + blocker->driver);
    }
    ++d.openCount;
    d.openers.push_back(opener);
    tx.changed = true;
}

void closeThroughVfio(Tx& tx, const PciAddress& address,
                      const std::string& opener)
{
    Device& d = existingDevice(tx, address, "close");
    if (d.openCount == 0)
    {
        fail(Errc::InvalidArgument,
             "cannot close " + address.str() + ": it is not open");
    }
    --d.openCount;
    auto mine = std::find(d.openers.rbegin(), d.openers.rend(), opener);
    if (mine != d.openers.rend())
    {
        d.openers.erase(std::next(mine).base());
    }
    else if (!d.openers.empty())
    {
        d.openers.pop_back();
    }
    tx.changed = true;
    // The last close lets a waiting unbind or removal finish now.
    tx.bus.settle(tx.nowMs);
}

} // namespace vfiod::sim
