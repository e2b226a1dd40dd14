#include "sim/sim_bus_writes.hpp"

#include "sim/sim_kernel_strings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace vfiod::sim
{

namespace
{

/** @brief The device a BDF write names, if it exists. */
Device* namedDevice(Model& model, std::string_view value)
{
    PciAddress address;
    std::string_view name = streqName(value);
    if (!PciAddress::tryParse(name, address) || address.str() != name)
    {
        return nullptr;
    }
    return findDevice(model, address);
}

Step writeBind(Tx& tx, const Driver& driver, std::string_view value)
{
    Device* d = namedDevice(tx.model, value);
    if (d == nullptr || !tx.bus.matches(driver, *d))
    {
        return Step::done(ENODEV);
    }
    if (std::optional<Step> wait = waitIfLocked(*d))
    {
        return *wait;
    }
    if (!d->driver.empty())
    {
        return Step::done(EBUSY);
    }
    int ret = tx.bus.probe(*d, driver);
    if (ret == 0)
    {
        tx.changed = true;
    }
    // device_driver_attach returns probe errors as negative errnos too.
    return Step::done(ret < 0 ? -ret : ret);
}

Step writeUnbind(Tx& tx, const Driver& driver, std::string_view value,
                 WriteMemory& memory)
{
    Device* d = namedDevice(tx.model, value);
    if (d == nullptr || d->driver != driver.name)
    {
        // Checked before the device lock: a writer that found the device
        // bound and then waited for the lock succeeds whatever happened.
        return Step::done(memory.sawBound ? 0 : ENODEV);
    }
    memory.sawBound = true;
    if (std::optional<Step> wait = waitIfLocked(*d))
    {
        return *wait;
    }
    if (d->unbindDelayMs > 0 || isVfioOpen(*d))
    {
        // vfio_unregister_group_dev waits for the last close.
        return startPending(tx, *d, PendingKind::Unbind, d->unbindDelayMs);
    }
    tx.bus.detach(*d);
    tx.changed = true;
    return Step::done();
}

/** @brief sscanf("%x %x ...") as new_id_store parses it. */
int scanIds(std::string_view value, unsigned (&fields)[6],
            unsigned long& driverData)
{
    std::string text(cString(value));
    return std::sscanf(text.c_str(), "%x %x %x %x %x %x %lx", &fields[0],
                       &fields[1], &fields[2], &fields[3], &fields[4],
                       &fields[5], &driverData);
}

Step writeNewId(Tx& tx, Driver& driver, std::string_view value)
{
    unsigned f[6] = {0, 0, anyId, anyId, 0, 0};
    unsigned long driverData = 0;
    int count = scanIds(value, f, driverData);
    if (count < 2)
    {
        return Step::done(EINVAL);
    }
    IdMatch id{f[0], f[1], f[2], f[3], f[4], f[5]};
    if (count != 7)
    {
        // An id the driver already matches is refused.
        Device probe;
        probe.vendor = static_cast<uint16_t>(id.vendor);
        probe.device = static_cast<uint16_t>(id.device);
        probe.subvendor = static_cast<uint16_t>(id.subvendor);
        probe.subdevice = static_cast<uint16_t>(id.subdevice);
        probe.classCode = id.classCode;
        if (tx.bus.matches(driver, probe))
        {
            return Step::done(EEXIST);
        }
    }
    else if (driverData != 0)
    {
        // Only driver_data values of the static table are accepted, and
        // the simulated tables carry none.
        return Step::done(EINVAL);
    }
    driver.dynamicIds.push_back(id);
    tx.changed = true;
    tx.bus.driverAttach(driver);
    return Step::done();
}

Step writeRemoveId(Tx& tx, Driver& driver, std::string_view value)
{
    unsigned f[6] = {0, 0, anyId, anyId, 0, 0};
    unsigned long unused = 0;
    if (scanIds(value, f, unused) < 2)
    {
        return Step::done(EINVAL);
    }
    auto it = std::find_if(driver.dynamicIds.begin(), driver.dynamicIds.end(),
                           [&f](const IdMatch& id) {
                               return id.vendor == f[0] && id.device == f[1] &&
                                      (f[3] == anyId || id.subdevice == f[3]) &&
                                      (f[2] == anyId || id.subvendor == f[2]) &&
                                      ((id.classCode ^ f[4]) & f[5]) == 0;
                           });
    if (it == driver.dynamicIds.end())
    {
        return Step::done(ENODEV);
    }
    driver.dynamicIds.erase(it);
    tx.changed = true;
    return Step::done();
}

} // namespace

Step writeDriversProbe(Tx& tx, std::string_view value)
{
    Device* d = namedDevice(tx.model, value);
    if (d == nullptr)
    {
        return Step::done(ENODEV);
    }
    if (std::optional<Step> wait = waitIfLocked(*d))
    {
        return *wait;
    }
    if (!d->driver.empty())
    {
        return Step::done();
    }
    uint64_t before = tx.model.seqnum;
    int ret = tx.bus.deviceAttach(*d);
    tx.changed = tx.model.seqnum != before;
    // bus_rescan_devices_helper: a failed probe is not an error (the
    // device just stays unbound), an error before probe is EINVAL here.
    return Step::done(ret < 0 ? EINVAL : 0);
}

Step writeDriverFile(Tx& tx, Driver& driver, std::string_view name,
                     std::string_view value, WriteMemory& memory)
{
    if (name == "bind")
    {
        return writeBind(tx, driver, value);
    }
    if (name == "unbind")
    {
        return writeUnbind(tx, driver, value, memory);
    }
    if (name == "new_id")
    {
        return writeNewId(tx, driver, value);
    }
    return writeRemoveId(tx, driver, value);
}

} // namespace vfiod::sim
