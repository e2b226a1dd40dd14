#include "sim/sim_pci_ids.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

namespace vfiod::sim
{

namespace
{

bool isHexDigits(std::string_view text, size_t count)
{
    return text.size() == count &&
           std::all_of(text.begin(), text.end(),
                       [](char c) { return std::isxdigit(uint8_t(c)); });
}

uint32_t hexValue(std::string_view text)
{
    return static_cast<uint32_t>(std::stoul(std::string(text), nullptr, 16));
}

} // namespace

std::optional<IdMatch> parseIdSpec(std::string_view spec)
{
    IdMatch id;
    std::string_view rest = spec;
    size_t space = rest.find(' ');
    std::string_view ids = rest.substr(0, space);
    std::string_view cls =
        space == std::string_view::npos ? "" : rest.substr(space + 1);
    if (ids.starts_with("class:"))
    {
        if (!cls.empty())
        {
            return std::nullopt;
        }
        cls = ids;
        ids = "";
    }
    if (!ids.empty())
    {
        std::vector<std::string_view> parts;
        size_t start = 0;
        while (start <= ids.size())
        {
            size_t colon = ids.find(':', start);
            size_t end = colon == std::string_view::npos ? ids.size() : colon;
            parts.push_back(ids.substr(start, end - start));
            start = end + 1;
        }
        if (parts.size() != 2 && parts.size() != 4)
        {
            return std::nullopt;
        }
        uint32_t* fields[] = {&id.vendor, &id.device, &id.subvendor,
                              &id.subdevice};
        for (size_t i = 0; i < parts.size(); ++i)
        {
            if (!isHexDigits(parts[i], 4))
            {
                return std::nullopt;
            }
            uint32_t value = hexValue(parts[i]);
            *fields[i] = value == 0xffff ? anyId : value;
        }
    }
    if (!cls.empty())
    {
        if (!cls.starts_with("class:") || cls.size() != 19 || cls[12] != '/' ||
            !isHexDigits(cls.substr(6, 6), 6) ||
            !isHexDigits(cls.substr(13, 6), 6))
        {
            return std::nullopt;
        }
        id.classCode = hexValue(cls.substr(6, 6));
        id.classMask = hexValue(cls.substr(13, 6));
    }
    return id;
}

namespace
{

/** @brief One modules.alias pattern as file2alias prints it. */
std::string aliasPattern(const IdMatch& id, bool vfioOverride)
{
    std::string out = vfioOverride ? "vfio_pci:" : "pci:";
    char buf[16];
    auto add = [&](const char* tag, bool set, uint32_t value, int width) {
        if (set)
        {
            std::snprintf(buf, sizeof buf, "%s%0*X", tag, width, value);
            out += buf;
        }
        else
        {
            out += tag;
            out += '*';
        }
    };
    add("v", id.vendor != anyId, id.vendor, 8);
    add("d", id.device != anyId, id.device, 8);
    add("sv", id.subvendor != anyId, id.subvendor, 8);
    add("sd", id.subdevice != anyId, id.subdevice, 8);
    add("bc", ((id.classMask >> 16) & 0xff) == 0xff,
        (id.classCode >> 16) & 0xff, 2);
    add("sc", ((id.classMask >> 8) & 0xff) == 0xff, (id.classCode >> 8) & 0xff,
        2);
    add("i", (id.classMask & 0xff) == 0xff, id.classCode & 0xff, 2);
    if (!out.ends_with('*'))
    {
        out += '*'; // file2alias's add_wildcard
    }
    return out;
}

} // namespace

std::string modulesAliasText(const Model& model)
{
    std::string out;
    for (const Module& module : model.modules)
    {
        for (const std::string& name : module.drivers)
        {
            const Driver* driver = findDriver(model, name);
            if (driver == nullptr)
            {
                continue;
            }
            std::vector<IdMatch> ids = driver->ids;
            if (ids.empty() && driver->overrideOnly)
            {
                ids.push_back(IdMatch{}); // vfio-pci: any device
            }
            for (const IdMatch& id : ids)
            {
                out += "alias " + aliasPattern(id, driver->overrideOnly) + " " +
                       module.name + "\n";
            }
        }
        for (const std::string& alias : module.aliases)
        {
            out += "alias " + alias + " " + module.name + "\n";
        }
    }
    return out;
}

} // namespace vfiod::sim
