#include "sim/sim_writes.hpp"

#include "sim/sim_migration.hpp"
#include "sim/sim_sysfs.hpp"
#include "sim/sim_text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace vfiod::sim
{

namespace
{

/** @brief What the kernel sees of a write: the bytes up to a NUL. */
std::string_view cString(std::string_view value)
{
    return value.substr(0, value.find('\0'));
}

/** @brief sysfs_streq's view of a name: one trailing newline ignored. */
std::string_view streqName(std::string_view value)
{
    value = cString(value);
    if (value.ends_with('\n'))
    {
        value.remove_suffix(1);
    }
    return value;
}

/**
 * @brief kstrtoull: optional '+', base 0 prefixes (0x hex, 0 octal), one
 * trailing newline allowed. @return -1 for malformed text or overflow.
 */
int64_t kstrtou(std::string_view text, uint64_t max)
{
    text = cString(text);
    if (text.ends_with('\n'))
    {
        text.remove_suffix(1);
    }
    if (text.starts_with('+'))
    {
        text.remove_prefix(1);
    }
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    {
        base = 16;
        text.remove_prefix(2);
    }
    else if (text.size() > 1 && text[0] == '0')
    {
        base = 8;
        text.remove_prefix(1);
    }
    if (text.empty())
    {
        return -1;
    }
    uint64_t value = 0;
    for (char c : text)
    {
        unsigned digit = 0;
        if (c >= '0' && c <= '9')
        {
            digit = unsigned(c - '0');
        }
        else if (c >= 'a' && c <= 'f')
        {
            digit = unsigned(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F')
        {
            digit = unsigned(c - 'A' + 10);
        }
        else
        {
            return -1;
        }
        if (digit >= base || value > (max - digit) / base)
        {
            return -1;
        }
        value = value * base + digit;
    }
    return static_cast<int64_t>(value);
}

/** @brief kstrtobool. @return -1 when it is not a boolean. */
int kstrtobool(std::string_view text)
{
    text = cString(text);
    if (text.empty())
    {
        return -1;
    }
    switch (text[0])
    {
        case 'y':
        case 'Y':
        case 't':
        case 'T':
        case '1':
            return 1;
        case 'n':
        case 'N':
        case 'f':
        case 'F':
        case '0':
            return 0;
        case 'o':
        case 'O':
            if (text.size() > 1 && (text[1] == 'n' || text[1] == 'N'))
            {
                return 1;
            }
            if (text.size() > 1 && (text[1] == 'f' || text[1] == 'F'))
            {
                return 0;
            }
            return -1;
        default:
            return -1;
    }
}

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

bool anyVfOpen(PciBus& bus, const Device& pf)
{
    std::vector<Device*> vfs = bus.vfsOf(pf);
    return std::any_of(vfs.begin(), vfs.end(),
                       [](const Device* vf) { return isVfioOpen(*vf); });
}

Step writeDriverOverride(Tx& tx, Device& d, std::string_view value)
{
    // driver_set_override: the value must fit a page with its newline.
    if (value.size() >= 4095)
    {
        return Step::done(EINVAL);
    }
    if (std::optional<Step> wait = waitIfLocked(d))
    {
        return *wait;
    }
    std::string_view name = cString(value);
    name = name.substr(0, name.find('\n'));
    // "" and "\n" clear it; nothing is bound or unbound here.
    if (name.empty())
    {
        d.driverOverride.reset();
    }
    else
    {
        d.driverOverride = std::string(name);
    }
    tx.changed = true;
    return Step::done();
}

Step writeReset(Tx& tx, Device& d, std::string_view value)
{
    if (kstrtou(value, UINT64_MAX) != 1)
    {
        return Step::done(EINVAL);
    }
    if (std::optional<Step> wait = waitIfLocked(d))
    {
        return *wait;
    }
    int ret = tx.bus.checkReset(d);
    if (ret < 0)
    {
        return Step::done(-ret);
    }
    if (d.resetDelayMs > 0)
    {
        return startPending(tx, d, PendingKind::Reset, d.resetDelayMs);
    }
    ++d.resetCount;
    resetMigration(d);
    tx.changed = true;
    return Step::done();
}

Step writeResetMethod(Tx& tx, Device& d, std::string_view value)
{
    std::string_view text = streqName(value);
    std::vector<std::string> methods;
    if (text == "default")
    {
        methods = d.resetSupported;
    }
    else if (!text.empty())
    {
        for (std::string_view word : split(cString(value), ' '))
        {
            // strim: the last word carries the newline.
            while (!word.empty() && (word.back() == '\n' ||
                                     word.back() == '\t' || word.back() == ' '))
            {
                word.remove_suffix(1);
            }
            if (word.empty())
            {
                continue;
            }
            if (std::find(d.resetSupported.begin(), d.resetSupported.end(),
                          word) == d.resetSupported.end() ||
                methods.size() >= knownResetMethods().size())
            {
                return Step::done(EINVAL); // previous methods unchanged
            }
            methods.emplace_back(word);
        }
    }
    d.resetEnabled = std::move(methods);
    tx.changed = true;
    return Step::done();
}

Step writeAutoprobe(Tx& tx, Device& d, std::string_view value)
{
    int flag = kstrtobool(value);
    if (flag < 0)
    {
        return Step::done(EINVAL);
    }
    d.sriovAutoprobe = flag == 1;
    tx.changed = true;
    return Step::done();
}

Step writeNumVfs(Tx& tx, Device& pf, std::string_view value)
{
    // sriov_numvfs_store.
    int64_t count = kstrtou(value, 0xffff);
    if (count < 0)
    {
        return Step::done(EINVAL);
    }
    if (static_cast<unsigned>(count) > pf.sriovTotalVfs)
    {
        return Step::done(ERANGE);
    }
    if (std::optional<Step> wait = waitIfLocked(pf))
    {
        return *wait;
    }
    if (static_cast<unsigned>(count) == pf.sriovNumVfs)
    {
        return Step::done();
    }
    const Driver* driver =
        pf.driver.empty() ? nullptr : findDriver(tx.model, pf.driver);
    if (driver == nullptr || !driver->sriov)
    {
        return Step::done(ENOENT); // no driver with sriov_configure
    }
    if (count == 0)
    {
        if (anyVfOpen(tx.bus, pf))
        {
            // Removing a VF that vfio holds open blocks like its unbind.
            return startPending(tx, pf, PendingKind::DisableSriov, 0);
        }
        tx.bus.disableSriov(pf);
        tx.changed = true;
        return Step::done();
    }
    if (pf.sriovNumVfs > 0)
    {
        return Step::done(EBUSY); // disable before enabling another count
    }
    int ret = tx.bus.enableSriov(pf, static_cast<unsigned>(count));
    if (ret < 0)
    {
        return Step::done(-ret);
    }
    tx.changed = true;
    return Step::done();
}

Step writeRemove(Tx& tx, Device& d, std::string_view value)
{
    int64_t flag = kstrtou(value, UINT64_MAX);
    if (flag < 0)
    {
        return Step::done(EINVAL);
    }
    if (flag == 0)
    {
        return Step::done();
    }
    if (std::optional<Step> wait = waitIfLocked(d))
    {
        return *wait;
    }
    if (isVfioOpen(d) || anyVfOpen(tx.bus, d))
    {
        return startPending(tx, d, PendingKind::Remove, 0);
    }
    tx.bus.removeDevice(d.address);
    tx.changed = true;
    return Step::done();
}

Step writeDevice(Tx& tx, const SysEntry& entry, std::string_view value)
{
    Device* d = findDevice(tx.model, entry.dir.address);
    const std::string& name = entry.name;
    if (name == "driver_override")
    {
        return writeDriverOverride(tx, *d, value);
    }
    if (name == "reset")
    {
        return writeReset(tx, *d, value);
    }
    if (name.starts_with(migrationPrefix))
    {
        return writeMigration(tx, *d, name.substr(migrationPrefix.size()),
                              value);
    }
    if (name == "reset_method")
    {
        return writeResetMethod(tx, *d, value);
    }
    if (name == "sriov_drivers_autoprobe")
    {
        return writeAutoprobe(tx, *d, value);
    }
    if (name == "sriov_numvfs")
    {
        return writeNumVfs(tx, *d, value);
    }
    if (name == "remove")
    {
        return writeRemove(tx, *d, value);
    }
    return Step::done(EACCES);
}

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

std::optional<Step> waitIfLocked(const Device& device)
{
    if (device.pending.kind == PendingKind::None)
    {
        return std::nullopt;
    }
    Step step;
    step.kind = Step::Kind::WaitUnlocked;
    step.device = device.address;
    step.pendingId = device.pending.id;
    step.readyAtMs = device.pending.readyAtMs;
    return step;
}

Step startPending(Tx& tx, Device& device, PendingKind kind, unsigned delayMs)
{
    device.pending.kind = kind;
    device.pending.id = tx.model.nextPendingId++;
    device.pending.readyAtMs = tx.nowMs + delayMs;
    tx.changed = true;
    Step step;
    step.kind = Step::Kind::WaitCompleted;
    step.device = device.address;
    step.pendingId = device.pending.id;
    step.readyAtMs = device.pending.readyAtMs;
    return step;
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
            if (entry->name == "bind")
            {
                return writeBind(tx, *driver, value);
            }
            if (entry->name == "unbind")
            {
                return writeUnbind(tx, *driver, value, memory);
            }
            if (entry->name == "new_id")
            {
                return writeNewId(tx, *driver, value);
            }
            return writeRemoveId(tx, *driver, value);
        }
        default:
            return Step::done(EACCES);
    }
}

} // namespace vfiod::sim
