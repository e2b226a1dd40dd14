#pragma once

#include "base/pci_address.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

class KernelHost;

/**
 * @brief A PCI function as sysfs describes it at the moment it was read.
 *
 * A snapshot, not a live view: read it again after changing anything.
 */
struct PciDevice
{
    PciAddress address;
    uint16_t vendorId = 0;
    uint16_t deviceId = 0;
    uint16_t subsystemVendorId = 0;
    uint16_t subsystemDeviceId = 0;
    uint32_t classCode = 0; ///< 24 bits: base class, subclass, prog-if
    uint8_t revision = 0;
    /// Config space byte 0x0e without the multi-function bit: 0 for
    /// endpoints, 1 for PCI-PCI bridges, 2 for CardBus bridges.
    uint8_t headerType = 0;

    std::string driver;         ///< bound driver, "" when unbound
    std::string driverOverride; ///< "" when the kernel prints "(null)"
    int iommuGroup = -1;        ///< -1 when the device has no group
    int numaNode = -1;
    std::string modalias;
    /// Enabled reset methods in the kernel's priority order; empty when the
    /// device has none (no "reset" file either).
    std::vector<std::string> resetMethods;
    bool hasResetFile = false;
    /// Name of the physical slot the device sits in (bus/pci/slots/NAME),
    /// "" when the platform describes none.
    std::string physicalSlot;

    /// SR-IOV: set on a VF, the PF it belongs to and its index there.
    std::optional<PciAddress> physfn;
    std::optional<unsigned> vfIndex;
    /// SR-IOV: on a PF, its VFs ordered by index (virtfn0, virtfn1, ...).
    std::vector<PciAddress> virtfns;
    bool sriovCapable = false; ///< has sriov_totalvfs
    unsigned sriovNumVfs = 0;
    unsigned sriovTotalVfs = 0;
    bool sriovDriversAutoprobe = true;
    /// SR-IOV on a PF: where its VFs sit (routing ID arithmetic) and the
    /// device id they carry.
    unsigned sriovOffset = 0;
    unsigned sriovStride = 0;
    uint16_t sriovVfDevice = 0;

    /** @brief Bridges (header type 1 or 2) can never be bound to vfio. */
    bool isBridge() const noexcept
    {
        return headerType != 0;
    }

    bool isVirtfn() const noexcept
    {
        return physfn.has_value();
    }
};

/**
 * @brief The attributes whose show() takes the device lock
 * (driver_override, sriov_numvfs): while a kernel call on the device
 * blocks (an unbind waiting for the last close), reading them blocks as
 * long, so a reader that must not wait skips them.
 */
enum class LockedReads
{
    Read,
    Skip, ///< driverOverride and sriovNumVfs are left empty
};

/**
 * @brief Reads what LockedReads::Skip left out into @p device: may block
 * as long as a kernel call on the device holds its lock.
 */
void readLockedAttributes(KernelHost& host, PciDevice& device);

/**
 * @brief Reads one device through the kernel boundary.
 * @throws Error(Errc::NotFound) when the device does not exist.
 */
PciDevice readPciDevice(KernelHost& host, const PciAddress& address,
                        LockedReads locked = LockedReads::Read);

/**
 * @brief The address VF @p index of @p pf has or will have, from the PF's
 * routing ID, First VF Offset and VF Stride (PCIe SR-IOV 9.3.3.9/10).
 * @return std::nullopt when @p pf is not SR-IOV capable, @p index is not
 *         below its TotalVFs, or the VF would lie beyond bus 255.
 */
std::optional<PciAddress> vfAddress(const PciDevice& pf, unsigned index);

/** @brief Every PCI device present, sorted by address. */
std::vector<PciAddress> listPciDevices(KernelHost& host);

/** @brief vfio-pci itself or a vfio-pci variant (mlx5_vfio_pci, ...). */
bool isVfioDriver(std::string_view driver) noexcept;

/**
 * @brief Drivers the kernel marks driver_managed_dma, which keep an IOMMU
 * group viable: vfio-pci and its variants, pci-stub and pcieport. An
 * unbound device ("") keeps it viable too.
 */
bool keepsGroupViable(std::string_view driver) noexcept;

} // namespace vfiod
