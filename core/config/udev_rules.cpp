#include "config/udev_rules.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>

namespace vfiod
{

namespace
{

/// A rule line stays far below udev's line limit with this many addresses.
constexpr size_t addressesPerLine = 32;

constexpr std::string_view endLabel = "vfiod_end";

std::string hexId(unsigned value, int digits)
{
    char text[16];
    std::snprintf(text, sizeof text, "0x%0*x", digits, value);
    return text;
}

std::string alternatives(const std::vector<std::string>& values)
{
    std::string out;
    for (const std::string& value : values)
    {
        out += (out.empty() ? "" : "|") + value;
    }
    return out;
}

/**
 * @brief The class selector as a glob on the "class" attribute ("0x030000"):
 * a mask of whole hex digits becomes '?' for the digits it ignores.
 * @return std::nullopt for a mask that splits a digit.
 */
std::optional<std::string> classGlob(uint32_t code, uint32_t mask)
{
    std::string glob = "0x";
    for (int shift = 20; shift >= 0; shift -= 4)
    {
        unsigned digitMask = (mask >> shift) & 0xf;
        if (digitMask == 0)
        {
            glob += '?';
        }
        else if (digitMask == 0xf)
        {
            glob += "0123456789abcdef"[(code >> shift) & 0xf];
        }
        else
        {
            return std::nullopt;
        }
    }
    return glob;
}

/** @brief How a policy rule can be written for udev. */
struct Translation
{
    enum class Kind
    {
        Exact,   ///< the conditions select exactly the rule's devices
        Guard,   ///< a superset: ends the file for them, binds nothing
        Omitted, ///< cannot match at add time
    };
    Kind kind = Kind::Exact;
    std::vector<std::string> conditions;
    std::string why; ///< for Guard and Omitted
};

const PciDevice* findDevice(const std::vector<PciDevice>& devices,
                            const PciAddress& address)
{
    for (const PciDevice& device : devices)
    {
        if (device.address == address)
        {
            return &device;
        }
    }
    return nullptr;
}

bool inRanges(const std::vector<VfIndexRange>& ranges, unsigned index)
{
    if (ranges.empty())
    {
        return true;
    }
    for (const VfIndexRange& range : ranges)
    {
        if (index >= range.first && index <= range.last)
        {
            return true;
        }
    }
    return false;
}

/** @brief The addresses the VFs selected by pf/vf_index have or will have. */
std::vector<std::string> vfAddresses(const PolicyMatch& match,
                                     const PciDevice& pf)
{
    std::vector<std::string> out;
    for (unsigned index = 0; index < pf.sriovTotalVfs; ++index)
    {
        std::optional<PciAddress> vf = vfAddress(pf, index);
        if (!vf)
        {
            break;
        }
        if (inRanges(match.vfIndexes, index))
        {
            out.push_back(vf->str());
        }
    }
    return out;
}

void addIds(const PolicyMatch& match, std::vector<std::string>& conditions)
{
    if (match.vendor)
    {
        conditions.push_back("ATTR{vendor}==\"" + hexId(*match.vendor, 4) +
                             "\"");
    }
    if (!match.devices.empty())
    {
        std::vector<std::string> ids;
        for (uint16_t id : match.devices)
        {
            ids.push_back(hexId(id, 4));
        }
        conditions.push_back("ATTR{device}==\"" + alternatives(ids) + "\"");
    }
    if (match.subsystemVendor)
    {
        conditions.push_back("ATTR{subsystem_vendor}==\"" +
                             hexId(*match.subsystemVendor, 4) + "\"");
    }
    if (match.subsystemDevice)
    {
        conditions.push_back("ATTR{subsystem_device}==\"" +
                             hexId(*match.subsystemDevice, 4) + "\"");
    }
}

Translation translate(const PolicyRule& rule,
                      const std::vector<PciDevice>& devices,
                      std::vector<std::string>& addressSets)
{
    const PolicyMatch& match = rule.match;
    Translation out;
    if (match.all)
    {
        return out;
    }
    if (!match.drivers.empty())
    {
        out.kind = Translation::Kind::Omitted;
        out.why = "it selects by the bound driver, which a device being "
                  "added does not have yet";
        return out;
    }
    addIds(match, out.conditions);
    if (match.classCode)
    {
        if (auto glob = classGlob(*match.classCode, match.classMask))
        {
            out.conditions.push_back("ATTR{class}==\"" + *glob + "\"");
        }
        else
        {
            out.kind = Translation::Kind::Guard;
            out.why = "its class mask " + hexId(match.classMask, 6) +
                      " splits a hex digit";
        }
    }
    std::vector<std::string> addresses;
    for (const PciAddress& address : match.addresses)
    {
        addresses.push_back(address.str());
    }
    if (match.pf)
    {
        const PciDevice* pf = findDevice(devices, *match.pf);
        if (pf == nullptr || !pf->sriovCapable)
        {
            out.kind = Translation::Kind::Omitted;
            out.why = "its PF " + match.pf->str() +
                      " is not present or not SR-IOV capable";
            return out;
        }
        std::vector<std::string> vfs = vfAddresses(match, *pf);
        if (!addresses.empty())
        {
            // Both selectors: only addresses in both lists.
            std::vector<std::string> both;
            for (const std::string& vf : vfs)
            {
                for (const std::string& address : addresses)
                {
                    if (vf == address)
                    {
                        both.push_back(vf);
                    }
                }
            }
            vfs = both;
        }
        if (vfs.empty())
        {
            out.kind = Translation::Kind::Omitted;
            out.why = "no VF of " + pf->address.str() + " can match it";
            return out;
        }
        addresses = vfs;
    }
    if (!match.slots.empty())
    {
        out.kind = Translation::Kind::Guard;
        out.why = "udev cannot test the physical slot";
    }
    addressSets = addresses;
    return out;
}

std::string actionsOf(const PolicyActions& actions)
{
    if (actions.bind.empty())
    {
        return "";
    }
    // "auto": the variant is chosen by vfiod from modules.alias after the
    // add; until then "none" keeps every driver off the device.
    std::string override = actions.bind == "auto" ? "none" : actions.bind;
    std::string out = "ATTR{driver_override}=\"" + override + "\", ";
    if (actions.bind != "auto")
    {
        out += "RUN{builtin}+=\"kmod load " + actions.bind + "\", ";
    }
    out += "TAG+=\"systemd\", ENV{SYSTEMD_WANTS}+=\"vfiod.service\", ";
    return out;
}

void writeLines(std::string& out, const std::vector<std::string>& conditions,
                const std::vector<std::string>& addresses,
                const std::string& actions)
{
    std::string common;
    for (const std::string& condition : conditions)
    {
        common += condition + ", ";
    }
    // Only a device that nobody has claimed yet: an override set by the
    // administrator (driverctl) wins.
    std::string tail =
        actions.empty() ? "" : "ATTR{driver_override}==\"(null)\", " + actions;
    tail += "GOTO=\"" + std::string(endLabel) + "\"\n";
    if (addresses.empty())
    {
        out += common + tail;
        return;
    }
    for (size_t first = 0; first < addresses.size(); first += addressesPerLine)
    {
        std::vector<std::string> chunk(
            addresses.begin() + static_cast<std::ptrdiff_t>(first),
            addresses.begin() +
                static_cast<std::ptrdiff_t>(
                    std::min(first + addressesPerLine, addresses.size())));
        out += "KERNEL==\"" + alternatives(chunk) + "\", " + common + tail;
    }
}

} // namespace

std::string generateUdevRules(const Policy& policy,
                              const std::vector<PciDevice>& devices)
{
    std::string out =
        "# Generated by vfiod from its policy; vfiod rewrites this file at\n"
        "# start-up and on every reload, so do not edit it: edit\n"
        "# /etc/vfiod/policy.d instead. `vfioctl udev-rules` prints it.\n"
        "#\n"
        "# Sets driver_override as a PCI device is added, before a host\n"
        "# driver module is loaded for it, so a device the policy wants on\n"
        "# vfio is not grabbed by a host driver; vfiod then binds it.\n"
        "# Rules are tried in the policy's order; the first match ends the\n"
        "# file, as in vfiod itself. See vfiod.toml(5).\n";
    for (const std::string& file : policy.files)
    {
        out += "# policy file: " + file + "\n";
    }
    out += "\nACTION!=\"add\", GOTO=\"vfiod_end\"\n"
           "SUBSYSTEM!=\"pci\", GOTO=\"vfiod_end\"\n"
           "# Bridges are never bound to vfio.\n"
           "ATTR{class}==\"0x0604??|0x0607??|0x0609??\", GOTO=\"vfiod_end\"\n";
    for (const PolicyRule& rule : policy.rules)
    {
        std::vector<std::string> addresses;
        Translation translation = translate(rule, devices, addresses);
        out += "\n# rule \"" + rule.name + "\" (" + rule.file + ":" +
               std::to_string(rule.line) + ")";
        switch (translation.kind)
        {
            case Translation::Kind::Omitted:
                out += ": not here, " + translation.why + "\n";
                continue;
            case Translation::Kind::Guard:
                out += ": approximate, " + translation.why +
                       ";\n# vfiod decides after the add\n";
                writeLines(out, translation.conditions, addresses, "");
                continue;
            case Translation::Kind::Exact:
                out += rule.actions.bind.empty() ? ": binds nothing\n" : "\n";
                writeLines(out, translation.conditions, addresses,
                           actionsOf(rule.actions));
                continue;
        }
    }
    out += "\nLABEL=\"vfiod_end\"\n";
    return out;
}

namespace
{

/**
 * @brief What vfiod wrote at PATH, or nullopt when that is not there: only
 * a regular file is read. A link (or a FIFO, or anything else) planted at
 * the name is not vfiod's file: not followed, not waited on, and replaced.
 */
std::optional<std::string> currentRules(const std::string& path)
{
    // Far above any rules vfiod generates; a larger file is rewritten.
    constexpr size_t maxBytes = 64 * 1024 * 1024;
    try
    {
        return readRegularFile(path, maxBytes);
    }
    catch (const Error&)
    {
        return std::nullopt;
    }
}

} // namespace

bool writeUdevRules(const std::string& dir, const std::string& text)
{
    std::string path = dir + "/" + std::string(udevRulesFileName);
    try
    {
        // /run/udev/rules.d does not exist until something creates it.
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec)
        {
            throw std::system_error(ec, "create " + dir);
        }
        if (currentRules(path) == text)
        {
            return false;
        }
        // A symlink planted at the name is replaced by the file, never
        // written through (writeFileAtomically renames over it).
        writeFileAtomically(path, text);
        return true;
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed, "cannot write udev rules " + path + ": " + e.what());
    }
}

} // namespace vfiod
