#include "vfiod_sim_report.hpp"

#include "kernel/sysfs_layout.hpp"
#include "sim/sim_state_store.hpp"
#include "sim/sim_uevent_log.hpp"
#include "vfiod_sim_access.hpp"
#include "vfiod_sim_error.hpp"

#include <cerrno>
#include <cstdio>
#include <optional>
#include <system_error>
#include <vector>

namespace vfiod_sim
{

using vfiod::PciAddress;
using vfiod::SimHost;

namespace
{

std::string orDash(const std::optional<std::string>& text)
{
    return text && !text->empty() ? *text : "-";
}

/** @brief "0x8086\n" -> "8086". */
std::string bareHex(const std::string& text)
{
    std::string out = vfiod::sysfs::trim(text);
    return out.starts_with("0x") ? out.substr(2) : out;
}

} // namespace

void listDevices(SimHost& host)
{
    for (const std::string& name : host.list("bus/pci/devices"))
    {
        std::string base = "bus/pci/devices/" + name + "/";
        std::printf("%s  %s:%s  %s  %-14s group %s\n", name.c_str(),
                    bareHex(readAttr(host, base + "vendor")).c_str(),
                    bareHex(readAttr(host, base + "device")).c_str(),
                    bareHex(readAttr(host, base + "class")).c_str(),
                    orDash(host.readLinkName(base + "driver")).c_str(),
                    orDash(host.readLinkName(base + "iommu_group")).c_str());
    }
}

void showDevice(SimHost& host, const PciAddress& address)
{
    std::string dir = vfiod::sysfs::devicePath(address);
    if (!host.exists(dir))
    {
        throw ToolError{address.str() + ": no such device"};
    }
    std::vector<std::string> names = host.list(dir);
    names.emplace_back("sim_reset_count");
    for (const std::string& name : names)
    {
        std::string path = dir + "/" + name;
        if (std::optional<std::string> target = host.readLinkName(path))
        {
            std::printf("%s -> %s\n", name.c_str(), target->c_str());
            continue;
        }
        if (!host.list(path).empty())
        {
            std::printf("%s/\n", name.c_str());
            continue;
        }
        try
        {
            std::string value = host.read(path).value_or("");
            if (name == "config")
            {
                std::string hex;
                for (size_t i = 0; i < 64 && i < value.size(); ++i)
                {
                    char byte[4];
                    std::snprintf(byte, sizeof byte, "%02x",
                                  static_cast<unsigned char>(value[i]));
                    hex += byte;
                }
                value =
                    hex + "... (" + std::to_string(value.size()) + " bytes)";
            }
            std::printf("%s: %s\n", name.c_str(),
                        vfiod::sysfs::trim(value).c_str());
        }
        catch (const std::system_error& e)
        {
            std::printf("%s: (%s)\n", name.c_str(),
                        e.code().value() == EACCES
                            ? "write-only"
                            : errnoText(e.code().value()).c_str());
        }
    }
}

void printEvents(const std::string& stateDir)
{
    vfiod::sim::SimUeventLog log(
        vfiod::sim::SimStateStore(stateDir).ueventLogPath());
    for (const vfiod::Uevent& e : log.readAll())
    {
        std::printf("%llu %s %s %s %s",
                    static_cast<unsigned long long>(e.seqnum), e.action.c_str(),
                    e.subsystem.c_str(), e.sysname.c_str(), e.devpath.c_str());
        if (!e.driver.empty())
        {
            std::printf(" DRIVER=%s", e.driver.c_str());
        }
        std::printf("\n");
    }
}

} // namespace vfiod_sim
