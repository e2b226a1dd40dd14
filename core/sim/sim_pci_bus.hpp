#pragma once

#include "kernel/kernel_host.hpp"
#include "sim/sim_model.hpp"

#include <vector>

namespace vfiod::sim
{

using Events = std::vector<Uevent>;

/**
 * @brief The simulated kernel's PCI core: matching, probing, binding,
 * SR-IOV and reset, as drivers/base/dd.c, drivers/pci/pci-driver.c, iov.c
 * and vfio_pci_core.c do them, applied to a Model.
 *
 * Every call changes the model in one step and records the uevents the
 * kernel would send, in the kernel's order. Nothing here blocks or knows
 * about processes or files: SimKernel decides when an operation has to
 * wait and calls in here once it may complete.
 *
 * Return conventions follow the kernel so callers can reproduce the
 * different ways sysfs files report the same failure: probe() returns 0
 * when bound, a positive errno when the driver's probe failed (which
 * device_attach ignores to try the next driver) and a negative errno for a
 * failure before probe (which stops device_attach).
 */
class PciBus
{
  public:
    PciBus(Model& model, Events& events) : model(model), events(events) {}

    /** @brief pci_match_device: driver_override, dynamic ids, id table. */
    bool matches(const Driver& driver, const Device& device) const;

    /** @brief pci_device_can_probe: the VF autoprobe rule. */
    bool canProbe(const Device& device) const;

    /** @brief really_probe + pci_device_probe + the driver's probe. */
    int probe(Device& device, const Driver& driver);

    /**
     * @brief device_attach: tries every registered driver in registration
     * order. @return 1 bound, 0 nothing bound, negative errno.
     */
    int deviceAttach(Device& device);

    /** @brief driver_attach: probes every matching unbound device. */
    void driverAttach(const Driver& driver);

    /** @brief Detaches the device from its driver (device_release_driver). */
    void detach(Device& device);

    /**
     * @brief The PF driver's sriov_configure(n > 0): adds and probes the
     * VFs. @return 0 or a negative errno.
     */
    int enableSriov(Device& pf, unsigned count);

    /** @brief sriov_configure(0): unbinds and removes every VF. */
    void disableSriov(Device& pf);

    /** @brief Adds a device (add uevent) and probes it like a hotplug. */
    void addDevice(Device device);

    /** @brief pci_stop_and_remove_bus_device: VFs, driver, device. */
    void removeDevice(const PciAddress& address);

    /**
     * @brief pci_reset_function's choice: the first enabled method that
     * works. @return 0 or a negative errno (ENOTTY when none works).
     */
    int checkReset(const Device& device) const;

    /** @brief Loads a module and its dependencies (modprobe). */
    void loadModule(Module& module);

    /** @brief Whether a member of the group is open through vfio. */
    bool groupHasVfioUser(int group) const;

    /**
     * @brief The device blocking the group's viability: a member other
     * than @p except bound to a driver that is not driver_managed_dma.
     */
    const Device* viabilityBlocker(int group, const Device* except) const;

    /** @brief The device's VFs that exist, by index. */
    std::vector<Device*> vfsOf(const Device& pf);

    /** @brief Whether one of the device's VFs is open through vfio. */
    bool anyVfOpen(const Device& pf);

    /**
     * @brief Completes every pending operation whose condition now holds.
     * @return whether anything changed.
     */
    bool settle(int64_t nowMs);

    /** @brief Whether @p pending may complete now. */
    bool pendingReady(const Device& device, int64_t nowMs);

  private:
    void attach(Device& device, const Driver& driver);
    bool hasOtherVfioMember(const Device& device) const;
    int allocateVfioDev() const;
    int nextFreeGroup() const;
    void completePending(const PciAddress& address);

    void emitPci(const char* action, const Device& device,
                 const std::string& driver = {});
    void emitVfioGroup(const char* action, int group);
    void emitVfioDev(const char* action, const Device& device);

    Model& model;
    Events& events;
};

/** @brief "/devices/pci0000:03/0000:03:00.0" */
std::string devpathOf(const PciAddress& address);

} // namespace vfiod::sim
