#pragma once

#include "base/pci_address.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace vfiod
{

class KernelCalls;
class KernelHost;
struct PciDevice;

/** @brief How long each potentially blocking kernel step may take. */
struct BindTimeouts
{
    /// An unbind from vfio-pci blocks until every fd on the device closes.
    std::chrono::milliseconds unbind{std::chrono::seconds(10)};
    /// drivers_probe runs the driver's probe synchronously.
    std::chrono::milliseconds probe{std::chrono::seconds(10)};
    /// udev creates /dev/vfio/N after the bind.
    std::chrono::milliseconds devNode{std::chrono::seconds(5)};
    /// A bus reset alone takes a second or more.
    std::chrono::milliseconds reset{std::chrono::seconds(30)};
};

/** @brief Whether bindToVfio checks the IOMMU group's viability. */
enum class GroupCheck
{
    Required, ///< refuse when another member is on a DMA-API driver
    /// The caller binds the whole group and has checked the members it
    /// leaves alone.
    DoneByCaller,
};

/** @brief What a bind did. */
struct BindOutcome
{
    std::string previousDriver; ///< driver before the bind ("" = none)
    std::string driver;         ///< vfio driver now bound
    bool changed = false;       ///< false when it was already bound there
};

/**
 * @brief The binding engine: moves one device between its host driver and
 * vfio with the kernel's own sequence, and never leaves it half-bound.
 *
 * To vfio: check the device can be bound at all, check its IOMMU group,
 * modprobe the target when its driver directory is missing, write
 * driver_override, unbind the current driver, write the address to
 * drivers_probe, verify the driver link (a successful write does not prove
 * binding), then wait for /dev/vfio/<group>. Any failure after the first
 * write rolls the device back to where it was.
 *
 * Back: clear driver_override, unbind, drivers_probe, verify that the
 * original driver is back; if it does not come back, the device is
 * returned to vfio rather than left without a driver.
 *
 * Unbind and drivers_probe run with timeouts. A timed-out call is still
 * blocked in the kernel, so the device is marked stuck and every later
 * operation on it gets Busy until the kernel lets go.
 *
 * Thread-safe; callers serialize operations on one IOMMU group.
 */
class DriverBinder
{
  public:
    DriverBinder(KernelHost& host, KernelCalls& calls, BindTimeouts timeouts);
    ~DriverBinder();

    /**
     * @brief The vfio driver to use: @p requested when given (validated),
     * otherwise the modules.alias best match, otherwise vfio-pci.
     * @throws Error(Errc::InvalidArgument) for a requested name that is
     *         not a vfio driver.
     */
    std::string chooseVfioDriver(const PciDevice& device,
                                 const std::string& requested);

    /**
     * @brief Binds the device to a vfio driver. Idempotent.
     * @throws Error: NotFound, InvalidArgument, NotSupported (bridge, no
     *         IOMMU group), Busy (PF with VFs enabled, stuck), NotViable,
     *         Failed (kernel refused; rolled back), TimedOut.
     */
    BindOutcome bindToVfio(const PciAddress& address,
                           const std::string& requested,
                           GroupCheck groupCheck = GroupCheck::Required);

    /**
     * @brief Returns the device to @p originalDriver ("" = leave it
     * unbound; std::nullopt = not known, let the kernel pick). Idempotent.
     * @throws Error: NotFound, Busy (stuck), Failed (original driver did
     *         not bind; the device was returned to vfio), TimedOut.
     */
    void giveBack(const PciAddress& address,
                  const std::optional<std::string>& originalDriver);

    /**
     * @brief The host driver the kernel would give the device: the
     * modules.alias best match for its modalias, loaded when it is not.
     * @return std::nullopt when no host module matches.
     */
    std::optional<std::string> hostDriverFor(const PciDevice& device);

    /**
     * @brief Clears driver_override, so that the device's next probe is
     * the kernel's own choice (an override left by a bind cut short).
     * @throws Error: NotFound, Busy, Failed.
     */
    void clearOverride(const PciAddress& address);

    /**
     * @brief Writes driver_override (@p driver, "" clears it), waiting up
     * to the unbind timeout: the kernel writes it under the device lock,
     * so it returns only once an unbind or probe still in flight on the
     * device (left by a vfiod killed mid-way) has finished, and what is
     * read afterwards is where the device really ended up.
     * @throws Error: NotFound, TimedOut (the device is then stuck), Busy,
     *         Failed.
     */
    void settleOverride(const PciAddress& address, const std::string& driver);

    /**
     * @brief Sets a PF's sriov_drivers_autoprobe: off, a VF it creates
     * stays without a driver until vfiod binds it.
     * @throws Error: NotFound, Busy, Failed.
     */
    void setVfAutoprobe(const PciAddress& pf, bool on);

  private:
    void probeThroughOverride(const PciAddress& address,
                              const std::string& driver);
    void refuseUnbindable(const PciDevice& device) const;
    void loadDriver(const std::string& driver);
    void writeOverride(const PciAddress& address, const std::string& driver);
    void unbindFrom(const PciAddress& address, const std::string& driver);
    void probe(const PciAddress& address);
    void bindExplicitly(const PciAddress& address, const std::string& driver);
    void bindQuietly(const PciAddress& address, const std::string& driver);
    std::string currentDriver(const PciAddress& address);
    void verifyDriver(const PciAddress& address, const std::string& expected,
                      const std::string& step);
    void waitForGroupNode(const PciAddress& address, int group);
    std::string rollBack(const PciAddress& address,
                         const std::string& previousOverride,
                         const std::string& previousDriver);
    KernelHost& host;
    KernelCalls& calls;
    BindTimeouts timeouts;
};

} // namespace vfiod
