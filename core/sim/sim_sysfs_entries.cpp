#include "sim/sim_sysfs_entries.hpp"

#include <charconv>

namespace vfiod::sim::tree
{

SysDir dirAt(At at)
{
    SysDir dir;
    dir.at = at;
    return dir;
}

SysDir deviceDir(const PciAddress& address)
{
    SysDir dir = dirAt(At::Device);
    dir.address = address;
    return dir;
}

SysDir namedDir(At at, std::string_view name)
{
    SysDir dir = dirAt(at);
    dir.name = std::string(name);
    return dir;
}

SysDir numberedDir(At at, int number)
{
    SysDir dir = dirAt(at);
    dir.number = number;
    return dir;
}

SysEntry dirEntry(SysDir dir)
{
    SysEntry e;
    e.type = Type::Dir;
    e.dir = std::move(dir);
    return e;
}

SysEntry linkEntry(SysDir dir, std::string name)
{
    SysEntry e;
    e.type = Type::Link;
    e.dir = std::move(dir);
    e.name = std::move(name);
    return e;
}

SysEntry fileEntry(const SysDir& dir, std::string_view name, Type type,
                   bool writable)
{
    SysEntry e;
    e.type = type;
    e.dir = dir;
    e.name = std::string(name);
    e.writable = writable;
    return e;
}

std::optional<PciAddress> addressNamed(std::string_view name)
{
    PciAddress address;
    if (!PciAddress::tryParse(name, address) || address.str() != name)
    {
        return std::nullopt;
    }
    return address;
}

int numberNamed(std::string_view name)
{
    int value = -1;
    if (name.empty() || (name.size() > 1 && name[0] == '0'))
    {
        return -1;
    }
    auto [end, ec] =
        std::from_chars(name.data(), name.data() + name.size(), value);
    return ec == std::errc() && end == name.data() + name.size() ? value : -1;
}

} // namespace vfiod::sim::tree
