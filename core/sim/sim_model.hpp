#pragma once

#include "base/pci_address.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The simulated kernel's state: plain data, no behaviour beyond
 * lookups. sim_pci_bus.hpp changes it the way the kernel would, the state
 * store persists it, the sysfs router presents it.
 */
namespace vfiod::sim
{

/** @brief PCI_ANY_ID: a wildcard in an id table entry. */
inline constexpr uint32_t anyId = 0xffffffff;

/** @brief One struct pci_device_id entry (without driver_data). */
struct IdMatch
{
    uint32_t vendor = anyId;
    uint32_t device = anyId;
    uint32_t subvendor = anyId;
    uint32_t subdevice = anyId;
    uint32_t classCode = 0;
    uint32_t classMask = 0;

    bool operator==(const IdMatch&) const = default;
};

/** @brief A PCI driver some module provides. */
struct Driver
{
    std::string name;
    std::string module;
    std::vector<IdMatch> ids;        ///< static id table
    std::vector<IdMatch> dynamicIds; ///< added through new_id
    /// Its id table only matches devices whose driver_override names it
    /// (PCI_DRIVER_OVERRIDE_DEVICE_VFIO); an empty table then means "any".
    bool overrideOnly = false;
    bool sriov = false;      ///< has .sriov_configure
    bool managedDma = false; ///< driver_managed_dma: keeps a group viable
};

/** @brief A kernel module: the drivers it registers once loaded. */
struct Module
{
    std::string name;
    std::vector<std::string> drivers;
    std::vector<std::string> depends;
    std::vector<std::string> aliases; ///< extra modules.alias patterns
    bool loaded = false;
};

/**
 * @brief A kernel operation on a device that has started but not finished:
 * the simulated equivalent of a task sleeping with the device lock held.
 * Kept in the state, not in the writing process, because a real kernel
 * finishes the operation even if the writer is killed.
 */
enum class PendingKind
{
    None,
    Unbind,       ///< waits for the delay, then for the last close
    Reset,        ///< waits for the delay
    Remove,       ///< waits for the device and its VFs to be closed
    DisableSriov, ///< sriov_numvfs=0 waiting for its VFs to be closed
};

struct Pending
{
    PendingKind kind = PendingKind::None;
    uint64_t id = 0;
    int64_t readyAtMs = 0; ///< CLOCK_REALTIME ms; shared by processes
};

/** @brief Where a PF's VFs get their IOMMU groups. */
enum class VfGroup
{
    Own,  ///< each VF in a new group of its own (ACS)
    Pf,   ///< every VF joins the PF's group
    None, ///< the VFs have no group
};

struct Device
{
    PciAddress address;
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint16_t subvendor = 0;
    uint16_t subdevice = 0;
    uint32_t classCode = 0;
    uint8_t revision = 0;
    uint8_t headerType = 0;
    int iommuGroup = -1;
    int numaNode = -1;

    std::string driver; ///< "" when unbound
    std::optional<std::string> driverOverride;

    std::vector<std::string> resetSupported; ///< fixed at device add
    std::vector<std::string> resetEnabled;   ///< reset_method
    uint64_t resetCount = 0;

    // Failure injection and slowness, from the host file.
    std::vector<std::string> failProbe; ///< drivers whose probe gives EIO
    std::vector<std::string> failReset; ///< methods that give ENOTTY
    unsigned resetDelayMs = 0;
    unsigned unbindDelayMs = 0;

    // SR-IOV physical function.
    unsigned sriovTotalVfs = 0; ///< 0: not SR-IOV capable
    unsigned sriovNumVfs = 0;
    bool sriovAutoprobe = true;
    unsigned sriovOffset = 1;
    unsigned sriovStride = 1;
    uint16_t sriovVfDevice = 0;
    VfGroup sriovVfGroup = VfGroup::Own;
    std::vector<std::string> sriovVfResetMethods; ///< default ["flr"]

    // SR-IOV virtual function.
    std::optional<PciAddress> physfn;
    unsigned vfIndex = 0;

    // VFIO migration (sim_migration.hpp): VFIO_MIGRATION_* bits (0: the
    // device cannot migrate), stream payload size, state (uAPI number),
    // and the "memory" its stream is generated from.
    uint64_t migrationFlags = 0;
    uint64_t migrationStateSize = 0;
    uint32_t migrationState = 2; // RUNNING
    uint64_t migrationContents = 0;

    // Runtime state.
    unsigned openCount = 0; ///< vfio users (openDevice)
    /// Who opened it, "PID COMMAND" each, in order (vfioHolders).
    std::vector<std::string> openers;
    int vfioDev = -1; ///< k of vfio-dev/vfio<k> while vfio-bound
    Pending pending;

    bool sriovCapable() const noexcept
    {
        return sriovTotalVfs > 0;
    }
};

struct Model
{
    /// Random per initialisation, so a re-created state is never taken
    /// for the cached one even if generations coincide.
    std::string instance;
    uint64_t generation = 0;
    uint64_t seqnum = 0;
    uint64_t nextPendingId = 1;
    std::string kernelRelease;

    std::vector<Module> modules; ///< host file order
    std::vector<Driver> drivers; ///< every driver any module provides
    /// Drivers registered on the PCI bus, in registration order (the order
    /// the bus tries them in).
    std::vector<std::string> registered;
    std::map<PciAddress, Device> devices;
};

/** @brief The reset method names the kernel knows, in priority order. */
const std::vector<std::string>& knownResetMethods();

/** @brief vfio-pci or a variant driver (name ends in _vfio_pci). */
bool isVfioDriverName(std::string_view name) noexcept;

/** @brief Module names compare with '-' and '_' equivalent. */
bool sameModuleName(std::string_view a, std::string_view b) noexcept;

Device* findDevice(Model& model, const PciAddress& address);
const Device* findDevice(const Model& model, const PciAddress& address);
Driver* findDriver(Model& model, std::string_view name);
const Driver* findDriver(const Model& model, std::string_view name);
Module* findModule(Model& model, std::string_view name);
const Module* findModule(const Model& model, std::string_view name);

/** @brief Whether a driver is registered (its module is loaded). */
bool isRegistered(const Model& model, std::string_view driver);

/** @brief Whether the vfio core module is loaded (/dev/vfio/vfio). */
bool vfioLoaded(const Model& model);

/** @brief Bound to a vfio driver and held open by some process. */
bool isVfioOpen(const Device& device) noexcept;

/** @brief The address of VF @p index of @p pf, if it fits on a bus. */
std::optional<PciAddress> vfAddress(const Device& pf, unsigned index);

/** @brief pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X */
std::string modalias(const Device& device);

} // namespace vfiod::sim
