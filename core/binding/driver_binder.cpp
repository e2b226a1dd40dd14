#include "binding/driver_binder.hpp"

#include "base/error.hpp"
#include "base/text_escape.hpp"
#include "binding/kernel_call.hpp"
#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"
#include "pci/iommu_group.hpp"
#include "pci/modules_alias.hpp"
#include "pci/pci_device.hpp"

#include <system_error>

namespace vfiod
{

namespace
{

std::string shownDriver(const std::string& driver)
{
    return driver.empty() ? "no driver" : driver;
}

} // namespace

DriverBinder::DriverBinder(KernelHost& host, KernelCalls& calls,
                           BindTimeouts timeouts) :
    host(host),
    calls(calls), timeouts(timeouts)
{}

DriverBinder::~DriverBinder() = default;

void DriverBinder::clearOverride(const PciAddress& address)
{
    writeOverride(address, "");
}

void DriverBinder::settleOverride(const PciAddress& address,
                                  const std::string& driver)
{
    calls.write(address, sysfs::deviceAttr(address, "driver_override"),
                driver.empty() ? std::string("\n") : driver, timeouts.unbind,
                "writing driver_override");
}

void DriverBinder::setVfAutoprobe(const PciAddress& pf, bool on)
{
    try
    {
        host.write(sysfs::deviceAttr(pf, "sriov_drivers_autoprobe"),
                   on ? "1" : "0");
    }
    catch (const std::system_error& e)
    {
        failKernelWrite(e, pf, "writing sriov_drivers_autoprobe");
    }
}

std::string DriverBinder::chooseVfioDriver(const PciDevice& device,
                                           const std::string& requested)
{
    if (!requested.empty())
    {
        if (!sysfs::isValidDriverName(requested) || !isVfioDriver(requested))
        {
            fail(Errc::InvalidArgument,
                 text::quotedArgument(requested) +
                     " is not a vfio driver: use vfio-pci or a variant "
                     "such as mlx5_vfio_pci");
        }
        return requested;
    }
    if (auto module = bestVfioModule(host.modulesAlias(), device.modalias))
    {
        return pciDriverOfModule(host, *module);
    }
    return "vfio-pci";
}

void DriverBinder::refuseUnbindable(const PciDevice& device) const
{
    const std::string addr = device.address.str();
    if (device.isBridge())
    {
        fail(Errc::NotSupported,
             addr + " is a PCI bridge (header type " +
                 std::to_string(device.headerType) +
                 "); the kernel never binds bridges to vfio");
    }
    if (device.sriovNumVfs > 0)
    {
        fail(Errc::Busy, addr + " has " + std::to_string(device.sriovNumVfs) +
                             " VFs enabled; vfio-pci refuses a PF with VFs "
                             "(write 0 to sriov_numvfs first)");
    }
    if (device.iommuGroup < 0)
    {
        fail(Errc::NotSupported,
             addr + " has no IOMMU group: is the IOMMU enabled "
                    "(intel_iommu=on / amd_iommu=on)?");
    }
}

void DriverBinder::loadDriver(const std::string& driver)
{
    if (host.exists(sysfs::driverPath(driver)))
    {
        return;
    }
    host.modprobe(driver);
    if (!host.exists(sysfs::driverPath(driver)))
    {
        fail(Errc::Failed, "module " + driver +
                               " loaded but registered no PCI driver \"" +
                               driver + "\"");
    }
}

void DriverBinder::writeOverride(const PciAddress& address,
                                 const std::string& driver)
{
    // "\n" clears the override; the kernel strips the newline otherwise.
    // Written directly: it only waits for the device lock, which nothing
    // holds for long unless the device is stuck (checked beforehand).
    try
    {
        host.write(sysfs::deviceAttr(address, "driver_override"),
                   driver.empty() ? std::string("\n") : driver);
    }
    catch (const std::system_error& e)
    {
        failKernelWrite(e, address, "writing driver_override");
    }
}

void DriverBinder::unbindFrom(const PciAddress& address,
                              const std::string& driver)
{
    try
    {
        calls.write(address, sysfs::driverFile(driver, "unbind"), address.str(),
                    timeouts.unbind, "unbind from " + driver);
    }
    catch (const Error& e)
    {
        // ENODEV: someone else unbound it first, which is what we wanted.
        if (e.code() != Errc::NotFound || !currentDriver(address).empty())
        {
            throw;
        }
    }
}

void DriverBinder::probe(const PciAddress& address)
{
    calls.write(address, std::string(sysfs::driversProbe), address.str(),
                timeouts.probe, "drivers_probe");
}

void DriverBinder::bindExplicitly(const PciAddress& address,
                                  const std::string& driver)
{
    calls.write(address, sysfs::driverFile(driver, "bind"), address.str(),
                timeouts.probe, "bind to " + driver);
}

void DriverBinder::bindQuietly(const PciAddress& address,
                               const std::string& driver)
{
    try
    {
        bindExplicitly(address, driver);
    }
    catch (const Error& e)
    {
        // The caller verifies the driver link and reports; only a call
        // still blocked in the kernel must stop everything.
        if (e.code() == Errc::TimedOut)
        {
            throw;
        }
    }
}

void DriverBinder::probeThroughOverride(const PciAddress& address,
                                        const std::string& driver)
{
    // pci_device_probe refuses a VF whose PF has sriov_drivers_autoprobe=0
    // unless it has an override, whichever way the probe is asked for
    // (drivers_probe, bind, module load). The override is only needed for
    // the probe: once bound, clearing it changes nothing.
    writeOverride(address, driver);
    try
    {
        probe(address);
    }
    catch (...)
    {
        writeOverride(address, "");
        throw;
    }
    writeOverride(address, "");
}

std::optional<std::string> DriverBinder::hostDriverFor(const PciDevice& device)
{
    std::optional<std::string> module =
        bestHostModule(host.modulesAlias(), device.modalias);
    if (!module)
    {
        return std::nullopt;
    }
    std::string driver = pciDriverOfModule(host, *module);
    if (!host.exists(sysfs::driverPath(driver)))
    {
        host.modprobe(*module);
        driver = pciDriverOfModule(host, *module);
    }
    return driver;
}

std::string DriverBinder::currentDriver(const PciAddress& address)
{
    bool present = false;
    std::optional<std::string> driver;
    host.readTogether([&] {
        present = host.exists(sysfs::devicePath(address));
        if (present)
        {
            driver = host.readLinkName(sysfs::deviceAttr(address, "driver"));
        }
    });
    if (!present)
    {
        fail(Errc::NotFound, address.str() + " vanished");
    }
    return driver.value_or("");
}

void DriverBinder::verifyDriver(const PciAddress& address,
                                const std::string& expected,
                                const std::string& step)
{
    std::string actual = currentDriver(address);
    if (actual != expected)
    {
        fail(Errc::Failed, address.str() + " is on " + shownDriver(actual) +
                               " after " + step + ", not on " +
                               shownDriver(expected) +
                               " (the driver's probe failed: see the "
                               "kernel log)");
    }
}

void DriverBinder::waitForGroupNode(const PciAddress& address, int group)
{
    std::string node = sysfs::vfioGroupNode(group);
    if (!host.waitDevNode(node, timeouts.devNode))
    {
        fail(Errc::TimedOut, address.str() + " is bound, but /dev/" + node +
                                 " did not appear within " +
                                 std::to_string(timeouts.devNode.count()) +
                                 " ms (is udev running?)");
    }
}

std::string DriverBinder::rollBack(const PciAddress& address,
                                   const std::string& previousOverride,
                                   const std::string& previousDriver)
{
    try
    {
        writeOverride(address, previousOverride);
        std::string now = currentDriver(address);
        if (now == previousDriver)
        {
            return "; rolled back to " + shownDriver(previousDriver);
        }
        if (!now.empty())
        {
            unbindFrom(address, now);
        }
        if (!previousDriver.empty())
        {
            probe(address);
            if (currentDriver(address).empty())
            {
                bindQuietly(address, previousDriver);
            }
        }
        now = currentDriver(address);
        if (now == previousDriver)
        {
            return "; rolled back to " + shownDriver(previousDriver);
        }
        return "; rollback left it on " + shownDriver(now) + " instead of " +
               shownDriver(previousDriver);
    }
    catch (const std::exception& e)
    {
        return std::string("; rollback failed too: ") + e.what();
    }
}

BindOutcome DriverBinder::bindToVfio(const PciAddress& address,
                                     const std::string& requested,
                                     GroupCheck groupCheck)
{
    calls.requireNotStuck(address);
    PciDevice device = readPciDevice(host, address);
    refuseUnbindable(device);
    std::string target = chooseVfioDriver(device, requested);

    BindOutcome outcome{device.driver, target, false};
    if (device.driver == target)
    {
        if (device.driverOverride != target)
        {
            // Keep the device on vfio across a later reprobe.
            writeOverride(address, target);
        }
        waitForGroupNode(address, device.iommuGroup);
        return outcome;
    }

    if (groupCheck == GroupCheck::Required)
    {
        requireViableGroup(host, address, device.iommuGroup);
    }
    loadDriver(target);

    try
    {
        writeOverride(address, target);
        if (!device.driver.empty())
        {
            unbindFrom(address, device.driver);
        }
        probe(address);
        verifyDriver(address, target, "drivers_probe");
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::TimedOut || e.code() == Errc::NotFound)
        {
            // Still blocked in the kernel, or gone: nothing to roll back.
            throw;
        }
        fail(e.code(), e.what() + rollBack(address, device.driverOverride,
                                           device.driver));
    }
    waitForGroupNode(address, device.iommuGroup);
    outcome.changed = true;
    return outcome;
}

void DriverBinder::giveBack(const PciAddress& address,
                            const std::optional<std::string>& originalDriver)
{
    calls.requireNotStuck(address);
    PciDevice device = readPciDevice(host, address);
    if (!device.driver.empty() && !isVfioDriver(device.driver) &&
        (!originalDriver || device.driver == *originalDriver))
    {
        // On its host driver already: only a leftover override (of a bind
        // cut short) goes. Unbinding a driver that is where it belongs
        // would only open a window with no driver at all.
        if (!device.driverOverride.empty())
        {
            writeOverride(address, "");
        }
        return;
    }
    if (device.driverOverride.empty() && originalDriver &&
        device.driver == *originalDriver)
    {
        return;
    }
    if (originalDriver && !originalDriver->empty())
    {
        loadDriver(*originalDriver);
    }

    writeOverride(address, "");
    if (!device.driver.empty())
    {
        try
        {
            unbindFrom(address, device.driver);
        }
        catch (const Error& e)
        {
            if (e.code() == Errc::TimedOut || e.code() == Errc::NotFound)
            {
                throw;
            }
            writeOverride(address, device.driverOverride);
            throw;
        }
    }
    if (originalDriver && originalDriver->empty())
    {
        return;
    }

    try
    {
        probe(address);
        if (!originalDriver)
        {
            return; // whatever the kernel picked, if anything
        }
        if (currentDriver(address).empty())
        {
            if (device.physfn)
            {
                probeThroughOverride(address, *originalDriver);
            }
            else
            {
                bindQuietly(address, *originalDriver);
            }
        }
        verifyDriver(address, *originalDriver, "drivers_probe");
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::TimedOut || e.code() == Errc::NotFound)
        {
            throw;
        }
        fail(Errc::Failed, e.what() + rollBack(address, device.driverOverride,
                                               device.driver));
    }
}

} // namespace vfiod
