#include "sim/sim_device_writes.hpp"

#include "sim/sim_kernel_strings.hpp"
#include "sim/sim_migration.hpp"
#include "sim/sim_text.hpp"

#include <algorithm>
#include <cerrno>

namespace vfiod::sim
{

namespace
{

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
        if (tx.bus.anyVfOpen(pf))
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
    return startRemoval(tx, d);
}

} // namespace

Step startRemoval(Tx& tx, Device& device)
{
    if (std::optional<Step> wait = waitIfLocked(device))
    {
        return *wait;
    }
    if (isVfioOpen(device) || tx.bus.anyVfOpen(device))
    {
        return startPending(tx, device, PendingKind::Remove, 0);
    }
    tx.bus.removeDevice(device.address);
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

} // namespace vfiod::sim
