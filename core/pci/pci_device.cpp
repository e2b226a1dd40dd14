#include "pci/pci_device.hpp"

#include "base/error.hpp"
#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"
#include "kernel/sysfs_value.hpp"

#include <algorithm>
#include <system_error>
#include <utility>

namespace vfiod
{

namespace
{

/// Config space offset of the header type register (PCI 3.0 6.1).
constexpr size_t headerTypeOffset = 0x0e;
constexpr uint8_t multiFunctionBit = 0x80;

/** @brief Reads the attributes of one device, naming it in every error. */
class DeviceReader
{
  public:
    DeviceReader(KernelHost& host, const PciAddress& address) :
        host(host), address(address)
    {}

    std::string path(std::string_view attr) const
    {
        return sysfs::deviceAttr(address, attr);
    }

    std::optional<std::string> read(std::string_view attr) const
    {
        return host.read(path(attr));
    }

    std::optional<std::string> link(std::string_view name) const
    {
        return host.readLinkName(path(name));
    }

    [[noreturn]] void malformed(std::string_view attr,
                                const std::string& value) const
    {
        fail(Errc::Failed, "malformed " + std::string(attr) + " \"" +
                               sysfs::trim(value) + "\" of PCI device " +
                               address.str());
    }

    /** @brief A mandatory "0x..." attribute. */
    uint64_t hex(std::string_view attr, uint64_t max) const
    {
        std::optional<std::string> text = read(attr);
        if (!text)
        {
            fail(Errc::Failed, "PCI device " + address.str() + " has no " +
                                   std::string(attr) + " attribute");
        }
        std::optional<uint64_t> value = sysfs::parseHex(*text, max);
        if (!value)
        {
            malformed(attr, *text);
        }
        return *value;
    }

    /** @brief An optional decimal attribute. */
    std::optional<uint64_t> number(std::string_view attr, uint64_t max) const
    {
        std::optional<std::string> text = read(attr);
        if (!text)
        {
            return std::nullopt;
        }
        std::optional<uint64_t> value = sysfs::parseUnsigned(*text, max);
        if (!value)
        {
            malformed(attr, *text);
        }
        return value;
    }

    /** @brief The address a link such as physfn or virtfn0 points to. */
    std::optional<PciAddress> linkedAddress(std::string_view name) const
    {
        std::optional<std::string> target = link(name);
        if (!target)
        {
            return std::nullopt;
        }
        PciAddress linked;
        if (!PciAddress::tryParse(*target, linked))
        {
            malformed(name, *target);
        }
        return linked;
    }

    KernelHost& host;
    const PciAddress& address;
};

/**
 * @brief The header type from the class code, for when config space cannot
 * be read: PCI-PCI bridges (0x0604, 0x0609 semi-transparent) use header
 * type 1, CardBus bridges (0x0607) type 2.
 */
uint8_t headerTypeFromClass(uint32_t classCode)
{
    uint32_t baseAndSub = classCode >> 8;
    if (baseAndSub == 0x0604 || baseAndSub == 0x0609)
    {
        return 1;
    }
    if (baseAndSub == 0x0607)
    {
        return 2;
    }
    return 0;
}

uint8_t readHeaderType(const DeviceReader& reader, uint32_t classCode)
{
    std::optional<std::string> config;
    try
    {
        config = reader.read("config");
    }
    catch (const std::system_error&)
    {
        // Unreadable config space is not fatal: the class code tells
        // bridges apart well enough.
    }
    if (config && config->size() > headerTypeOffset)
    {
        auto byte = static_cast<uint8_t>((*config)[headerTypeOffset]);
        return byte & static_cast<uint8_t>(~multiFunctionBit);
    }
    return headerTypeFromClass(classCode);
}

int readIommuGroup(const DeviceReader& reader)
{
    std::optional<std::string> group = reader.link("iommu_group");
    if (!group)
    {
        return -1;
    }
    std::optional<int> number = sysfs::parseInt(*group);
    if (!number || *number < 0)
    {
        reader.malformed("iommu_group", *group);
    }
    return *number;
}

/** @brief "virtfn12" → 12; nullopt for any other name. */
std::optional<unsigned> virtfnIndex(std::string_view name)
{
    constexpr std::string_view prefix = "virtfn";
    if (!name.starts_with(prefix))
    {
        return std::nullopt;
    }
    auto index = sysfs::parseUnsigned(name.substr(prefix.size()), 0xffff);
    if (!index)
    {
        return std::nullopt;
    }
    return static_cast<unsigned>(*index);
}

/** @brief The virtfnN links of a device, ordered by N (not by name). */
std::vector<std::pair<unsigned, PciAddress>>
    readVirtfns(const DeviceReader& reader)
{
    std::vector<std::pair<unsigned, PciAddress>> virtfns;
    for (const std::string& name :
         reader.host.list(sysfs::devicePath(reader.address)))
    {
        std::optional<unsigned> index = virtfnIndex(name);
        if (!index)
        {
            continue;
        }
        if (std::optional<PciAddress> vf = reader.linkedAddress(name))
        {
            virtfns.emplace_back(*index, *vf);
        }
    }
    std::sort(virtfns.begin(), virtfns.end());
    return virtfns;
}

unsigned routingId(const PciAddress& address)
{
    return (unsigned{address.bus} << 8) | (unsigned{address.device} << 3) |
           address.function;
}

/**
 * @brief The VF's index in its PF: computed from the PF's offset and
 * stride and confirmed by one virtfnN link, so that a PF with a thousand
 * VFs is not listed once per VF; a scan of the links when that fails.
 */
std::optional<unsigned> findVfIndex(const DeviceReader& pf,
                                    const PciAddress& vf)
{
    std::optional<uint64_t> offset = pf.number("sriov_offset", 0xffff);
    std::optional<uint64_t> stride = pf.number("sriov_stride", 0xffff);
    unsigned distance = routingId(vf) - routingId(pf.address);
    if (offset && stride && *stride > 0 && vf.domain == pf.address.domain &&
        routingId(vf) >= routingId(pf.address) + *offset &&
        (distance - *offset) % *stride == 0)
    {
        auto index = static_cast<unsigned>((distance - *offset) / *stride);
        if (pf.linkedAddress("virtfn" + std::to_string(index)) == vf)
        {
            return index;
        }
    }
    for (const auto& [index, linked] : readVirtfns(pf))
    {
        if (linked == vf)
        {
            return index;
        }
    }
    return std::nullopt;
}

// The two attributes whose show() takes the device lock.
void readOverride(const DeviceReader& reader, PciDevice& device)
{
    std::string override =
        sysfs::trim(reader.read("driver_override").value_or(""));
    device.driverOverride = override == "(null)" ? "" : override;
}

void readNumVfs(const DeviceReader& reader, PciDevice& device)
{
    device.sriovNumVfs = static_cast<unsigned>(
        reader.number("sriov_numvfs", 0xffff).value_or(0));
}

void readSriov(const DeviceReader& reader, PciDevice& device,
               LockedReads locked)
{
    device.physfn = reader.linkedAddress("physfn");
    if (device.physfn)
    {
        device.vfIndex = findVfIndex(DeviceReader(reader.host, *device.physfn),
                                     device.address);
    }

    std::optional<uint64_t> total = reader.number("sriov_totalvfs", 0xffff);
    device.sriovCapable = total.has_value();
    if (!device.sriovCapable)
    {
        return;
    }
    device.sriovTotalVfs = static_cast<unsigned>(*total);
    if (locked == LockedReads::Read)
    {
        readNumVfs(reader, device);
    }
    device.sriovDriversAutoprobe =
        reader.number("sriov_drivers_autoprobe", 1).value_or(1) != 0;
    device.sriovOffset = static_cast<unsigned>(
        reader.number("sriov_offset", 0xffff).value_or(0));
    device.sriovStride = static_cast<unsigned>(
        reader.number("sriov_stride", 0xffff).value_or(0));
    // Printed "%x", without the 0x of the other id attributes.
    if (std::optional<std::string> vfDevice = reader.read("sriov_vf_device"))
    {
        std::optional<uint64_t> id = sysfs::parseHex("0x" + *vfDevice, 0xffff);
        if (!id)
        {
            reader.malformed("sriov_vf_device", *vfDevice);
        }
        device.sriovVfDevice = static_cast<uint16_t>(*id);
    }
    for (const auto& entry : readVirtfns(reader))
    {
        device.virtfns.push_back(entry.second);
    }
}

/**
 * @brief Whether a slot's address file covers @p address: "DDDD:BB:DD" is
 * one device number, "DDDD:BB" the whole bus (the slot of a PCIe port).
 */
bool slotCovers(const std::string& text, const PciAddress& address)
{
    PciAddress slot;
    auto colons = std::count(text.begin(), text.end(), ':');
    if (colons == 2 && PciAddress::tryParse(text + ".0", slot))
    {
        return slot.domain == address.domain && slot.bus == address.bus &&
               slot.device == address.device;
    }
    if (colons == 1 && PciAddress::tryParse(text + ":00.0", slot))
    {
        return slot.domain == address.domain && slot.bus == address.bus;
    }
    // An address we cannot read names no device; it is skipped rather than
    // failing the device, since the slot only serves policy matching.
    return false;
}

/** @brief The name of the bus/pci/slots entry holding @p address, or "". */
std::string readPhysicalSlot(KernelHost& host, const PciAddress& address)
{
    const std::string slots(sysfs::pciSlots);
    for (const std::string& name : host.list(slots))
    {
        std::optional<std::string> text =
            host.read(slots + "/" + name + "/address");
        if (text && slotCovers(sysfs::trim(*text), address))
        {
            return name;
        }
    }
    return "";
}

PciDevice readAttributes(KernelHost& host, const PciAddress& address,
                         LockedReads locked)
{
    if (!host.exists(sysfs::devicePath(address)))
    {
        fail(Errc::NotFound, "no PCI device " + address.str());
    }
    DeviceReader reader(host, address);

    PciDevice device;
    device.address = address;
    device.vendorId = static_cast<uint16_t>(reader.hex("vendor", 0xffff));
    device.deviceId = static_cast<uint16_t>(reader.hex("device", 0xffff));
    device.subsystemVendorId =
        static_cast<uint16_t>(reader.hex("subsystem_vendor", 0xffff));
    device.subsystemDeviceId =
        static_cast<uint16_t>(reader.hex("subsystem_device", 0xffff));
    device.classCode = static_cast<uint32_t>(reader.hex("class", 0xffffff));
    device.revision = static_cast<uint8_t>(reader.hex("revision", 0xff));
    device.headerType = readHeaderType(reader, device.classCode);

    device.driver = reader.link("driver").value_or("");
    if (locked == LockedReads::Read)
    {
        readOverride(reader, device);
    }
    device.iommuGroup = readIommuGroup(reader);
    if (std::optional<std::string> numa = reader.read("numa_node"))
    {
        std::optional<int> node = sysfs::parseInt(*numa);
        if (!node)
        {
            reader.malformed("numa_node", *numa);
        }
        device.numaNode = *node;
    }
    device.modalias = sysfs::trim(reader.read("modalias").value_or(""));
    device.resetMethods =
        sysfs::splitWords(reader.read("reset_method").value_or(""));
    device.hasResetFile = host.exists(reader.path("reset"));

    device.physicalSlot = readPhysicalSlot(host, address);

    readSriov(reader, device, locked);
    return device;
}

} // namespace

PciDevice readPciDevice(KernelHost& host, const PciAddress& address,
                        LockedReads locked)
{
    // Some twenty attributes: read at one moment, the simulated kernel's
    // lock is taken once rather than once per attribute, which is most of
    // what a bind costs on a host with a thousand VFs.
    PciDevice device;
    host.readTogether([&] { device = readAttributes(host, address, locked); });
    return device;
}

void readLockedAttributes(KernelHost& host, PciDevice& device)
{
    DeviceReader reader(host, device.address);
    readOverride(reader, device);
    if (device.sriovCapable)
    {
        readNumVfs(reader, device);
    }
}

std::optional<PciAddress> vfAddress(const PciDevice& pf, unsigned index)
{
    if (!pf.sriovCapable || index >= pf.sriovTotalVfs)
    {
        return std::nullopt;
    }
    unsigned rid =
        routingId(pf.address) + pf.sriovOffset + index * pf.sriovStride;
    if (rid > 0xffff)
    {
        return std::nullopt;
    }
    PciAddress vf;
    vf.domain = pf.address.domain;
    vf.bus = static_cast<uint8_t>(rid >> 8);
    vf.device = static_cast<uint8_t>((rid >> 3) & 0x1f);
    vf.function = static_cast<uint8_t>(rid & 0x7);
    return vf;
}

std::vector<PciAddress> listPciDevices(KernelHost& host)
{
    std::vector<PciAddress> addresses;
    for (const std::string& name : host.list(std::string(sysfs::pciDevices)))
    {
        PciAddress address;
        // Only canonical names: the short "BB:DD.F" form would parse too,
        // but it is not what the kernel names a device.
        if (PciAddress::tryParse(name, address) && address.str() == name)
        {
            addresses.push_back(address);
        }
    }
    std::sort(addresses.begin(), addresses.end());
    return addresses;
}

bool isVfioDriver(std::string_view driver) noexcept
{
    return driver == "vfio-pci" || driver.ends_with("_vfio_pci") ||
           driver.ends_with("-vfio-pci");
}

bool keepsGroupViable(std::string_view driver) noexcept
{
    return driver.empty() || isVfioDriver(driver) || driver == "pci-stub" ||
           driver == "pcieport";
}

} // namespace vfiod
