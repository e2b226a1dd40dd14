#include "sim/sim_attributes.hpp"

#include "sim/sim_migration.hpp"

#include <cstdio>

namespace vfiod::sim
{

namespace
{

using At = SysDir::At;

/** @brief A vfio-dev character device's major (dynamic in the kernel). */
constexpr int vfioDevMajor = 237;

std::string hex(unsigned value, int width)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%0*x\n", width, value);
    return buf;
}

std::string joinWords(const std::vector<std::string>& words)
{
    std::string out;
    for (const std::string& word : words)
    {
        out += out.empty() ? "" : " ";
        out += word;
    }
    return out;
}

std::string deviceAttribute(const Model& model, const Device& d,
                            std::string_view name)
{
    if (name == "vendor")
    {
        return hex(d.vendor, 4);
    }
    if (name == "device")
    {
        return hex(d.device, 4);
    }
    if (name == "subsystem_vendor")
    {
        return hex(d.subvendor, 4);
    }
    if (name == "subsystem_device")
    {
        return hex(d.subdevice, 4);
    }
    if (name == "class")
    {
        return hex(d.classCode, 6);
    }
    if (name == "revision")
    {
        return hex(d.revision, 2);
    }
    if (name == "driver_override")
    {
        return d.driverOverride.value_or("(null)") + "\n";
    }
    if (name == "numa_node")
    {
        return std::to_string(d.numaNode) + "\n";
    }
    if (name == "modalias")
    {
        return modalias(d) + "\n";
    }
    if (name == "config")
    {
        return configSpace(model, d);
    }
    if (name == "reset_method")
    {
        // Nothing at all, not even a newline, when every method is off.
        std::string methods = joinWords(d.resetEnabled);
        return methods.empty() ? methods : methods + "\n";
    }
    if (name == "sriov_totalvfs")
    {
        return std::to_string(d.sriovTotalVfs) + "\n";
    }
    if (name == "sriov_numvfs")
    {
        return std::to_string(d.sriovNumVfs) + "\n";
    }
    if (name == "sriov_drivers_autoprobe")
    {
        return d.sriovAutoprobe ? "1\n" : "0\n";
    }
    if (name == "sriov_offset")
    {
        return std::to_string(d.sriovOffset) + "\n";
    }
    if (name == "sriov_stride")
    {
        return std::to_string(d.sriovStride) + "\n";
    }
    if (name == "sriov_vf_device")
    {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%x\n", unsigned{d.sriovVfDevice});
        return buf;
    }
    if (name == resetCountAttr)
    {
        return std::to_string(d.resetCount) + "\n";
    }
    if (std::optional<std::string> text = migrationAttribute(d, name))
    {
        return *text;
    }
    return {};
}

void put16(std::string& config, size_t at, unsigned value)
{
    config[at] = static_cast<char>(value & 0xff);
    config[at + 1] = static_cast<char>((value >> 8) & 0xff);
}

} // namespace

std::string attributeText(const Model& model, const SysDir& dir,
                          std::string_view name)
{
    switch (dir.at)
    {
        case At::Device:
            if (const Device* d = findDevice(model, dir.address))
            {
                return deviceAttribute(model, *d, name);
            }
            return {};
        case At::VfioDev:
            return std::to_string(vfioDevMajor) + ":" +
                   std::to_string(dir.number) + "\n";
        case At::BusPci:
            return "1\n"; // drivers_autoprobe
        case At::Group:
            return "DMA\n";
        case At::Module:
            return "live\n";
        default:
            return {};
    }
}

std::string configSpace(const Model& model, const Device& d)
{
    // Type 0/1 header (PCI Local Bus 3.0, 6.1); 256 bytes, the size a
    // conventional function's config attribute has.
    std::string config(256, '\0');
    put16(config, 0x00, d.vendor);
    put16(config, 0x02, d.device);
    bool hostDriver = !d.driver.empty() && !isVfioDriverName(d.driver);
    put16(config, 0x04, hostDriver ? 0x0006 : 0x0000); // memory + master
    config[0x08] = static_cast<char>(d.revision);
    config[0x09] = static_cast<char>(d.classCode & 0xff);
    config[0x0a] = static_cast<char>((d.classCode >> 8) & 0xff);
    config[0x0b] = static_cast<char>((d.classCode >> 16) & 0xff);
    bool multiFunction = false;
    if (!d.physfn)
    {
        for (uint8_t fn = 0; fn < 8 && !multiFunction; ++fn)
        {
            PciAddress sibling = d.address;
            sibling.function = fn;
            multiFunction = fn != d.address.function &&
                            findDevice(model, sibling) != nullptr;
        }
    }
    config[0x0e] = static_cast<char>(d.headerType | (multiFunction ? 0x80 : 0));
    if (d.headerType == 0)
    {
        put16(config, 0x2c, d.subvendor);
        put16(config, 0x2e, d.subdevice);
    }
    else if (d.headerType == 1)
    {
        config[0x18] = static_cast<char>(d.address.bus);
        config[0x19] = static_cast<char>(d.address.bus + 1);
        config[0x1a] = static_cast<char>(d.address.bus + 1);
    }
    return config;
}

} // namespace vfiod::sim
