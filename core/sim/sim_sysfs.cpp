#include "sim/sim_sysfs.hpp"

#include "sim/sim_attributes.hpp"
#include "sim/sim_migration.hpp"
#include "sim/sim_text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace vfiod::sim
{

namespace
{

using At = SysDir::At;
using Type = SysEntry::Type;

/** @brief Attributes every device has; writable ones are flagged. */
struct AttrSpec
{
    std::string_view name;
    Type type;
    bool writable;
};

constexpr AttrSpec commonAttrs[] = {
    {"class", Type::File, false},
    {"config", Type::File, false},
    {"device", Type::File, false},
    {"driver_override", Type::File, true},
    {"modalias", Type::File, false},
    {"numa_node", Type::File, false},
    {"remove", Type::WriteOnly, true},
    {"revision", Type::File, false},
    {"subsystem_device", Type::File, false},
    {"subsystem_vendor", Type::File, false},
    {"vendor", Type::File, false},
};

constexpr AttrSpec resetAttrs[] = {
    {"reset", Type::WriteOnly, true},
    {"reset_method", Type::File, true},
};

constexpr AttrSpec sriovAttrs[] = {
    {"sriov_drivers_autoprobe", Type::File, true},
    {"sriov_numvfs", Type::File, true},
    {"sriov_offset", Type::File, false},
    {"sriov_stride", Type::File, false},
    {"sriov_totalvfs", Type::File, false},
    {"sriov_vf_device", Type::File, false},
};

constexpr std::string_view driverFiles[] = {"bind", "new_id", "remove_id",
                                            "unbind"};

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

/** @brief The canonical address a name spells, or nullopt. */
std::optional<PciAddress> addressNamed(std::string_view name)
{
    PciAddress address;
    if (!PciAddress::tryParse(name, address) || address.str() != name)
    {
        return std::nullopt;
    }
    return address;
}

/** @brief A non-negative decimal without leading zeros, or -1. */
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

bool groupExists(const Model& model, int group)
{
    return group >= 0 &&
           std::any_of(model.devices.begin(), model.devices.end(),
                       [group](const auto& entry) {
                           return entry.second.iommuGroup == group;
                       });
}

const Device* vfOf(const Model& model, const Device& pf, unsigned index)
{
    if (index >= pf.sriovNumVfs)
    {
        return nullptr;
    }
    std::optional<PciAddress> address = vfAddress(pf, index);
    const Device* vf = address ? findDevice(model, *address) : nullptr;
    return vf != nullptr && vf->physfn == pf.address ? vf : nullptr;
}

std::optional<SysEntry> deviceChild(const Model& model, const SysDir& dir,
                                    std::string_view name)
{
    const Device* d = findDevice(model, dir.address);
    if (d == nullptr)
    {
        return std::nullopt;
    }
    auto findSpec = [&](const auto& specs) -> std::optional<SysEntry> {
        for (const AttrSpec& spec : specs)
        {
            if (spec.name == name)
            {
                return fileEntry(dir, name, spec.type, spec.writable);
            }
        }
        return std::nullopt;
    };
    if (std::optional<SysEntry> e = findSpec(commonAttrs))
    {
        return e;
    }
    if (!d->resetSupported.empty())
    {
        if (std::optional<SysEntry> e = findSpec(resetAttrs))
        {
            return e;
        }
    }
    if (d->sriovCapable())
    {
        if (std::optional<SysEntry> e = findSpec(sriovAttrs))
        {
            return e;
        }
    }
    if (name == resetCountAttr)
    {
        return fileEntry(dir, name, Type::File, false);
    }
    if (d->migrationFlags != 0 && name.starts_with(migrationPrefix))
    {
        // Not kernel attributes either (sim_migration.hpp): unlisted.
        std::string_view attr = name.substr(migrationPrefix.size());
        if (attr == "flags" || attr == "data_size")
        {
            return fileEntry(dir, name, Type::File, false);
        }
        if (attr == "state" || attr == "contents")
        {
            return fileEntry(dir, name, Type::File, true);
        }
        if (attr == "data")
        {
            return fileEntry(dir, name, Type::WriteOnly, false);
        }
    }
    if (name == "driver" && !d->driver.empty())
    {
        SysDir target = dirAt(At::Driver);
        target.name = d->driver;
        return linkEntry(target, d->driver);
    }
    if (name == "iommu_group" && d->iommuGroup >= 0)
    {
        SysDir target = dirAt(At::Group);
        target.number = d->iommuGroup;
        return linkEntry(target, std::to_string(d->iommuGroup));
    }
    if (name == "physfn" && d->physfn && findDevice(model, *d->physfn))
    {
        return linkEntry(deviceDir(*d->physfn), d->physfn->str());
    }
    if (name.starts_with("virtfn"))
    {
        int index = numberNamed(name.substr(6));
        const Device* vf =
            index >= 0 ? vfOf(model, *d, unsigned(index)) : nullptr;
        if (vf != nullptr)
        {
            return linkEntry(deviceDir(vf->address), vf->address.str());
        }
    }
    if (name == "vfio-dev" && d->vfioDev >= 0)
    {
        SysDir target = dirAt(At::VfioDevDir);
        target.address = d->address;
        return dirEntry(target);
    }
    return std::nullopt;
}

std::vector<std::string> deviceChildNames(const Model& model, const Device& d)
{
    std::vector<std::string> names;
    auto addSpecs = [&](const auto& specs) {
        for (const AttrSpec& spec : specs)
        {
            names.emplace_back(spec.name);
        }
    };
    addSpecs(commonAttrs);
    if (!d.resetSupported.empty())
    {
        addSpecs(resetAttrs);
    }
    if (d.sriovCapable())
    {
        addSpecs(sriovAttrs);
    }
    if (!d.driver.empty())
    {
        names.emplace_back("driver");
    }
    if (d.iommuGroup >= 0)
    {
        names.emplace_back("iommu_group");
    }
    if (d.physfn && findDevice(model, *d.physfn))
    {
        names.emplace_back("physfn");
    }
    for (unsigned i = 0; i < d.sriovNumVfs; ++i)
    {
        if (vfOf(model, d, i) != nullptr)
        {
            names.push_back("virtfn" + std::to_string(i));
        }
    }
    if (d.vfioDev >= 0)
    {
        names.emplace_back("vfio-dev");
    }
    return names;
}

std::optional<SysEntry> child(const Model& model, const SysDir& dir,
                              std::string_view name)
{
    switch (dir.at)
    {
        case At::Root:
            if (name == "bus")
            {
                return dirEntry(dirAt(At::Bus));
            }
            if (name == "kernel")
            {
                return dirEntry(dirAt(At::Kernel));
            }
            if (name == "module")
            {
                return dirEntry(dirAt(At::Modules));
            }
            return std::nullopt;
        case At::Bus:
            if (name == "pci")
            {
                return dirEntry(dirAt(At::BusPci));
            }
            return std::nullopt;
        case At::BusPci:
            if (name == "devices")
            {
                return dirEntry(dirAt(At::Devices));
            }
            if (name == "drivers")
            {
                return dirEntry(dirAt(At::Drivers));
            }
            if (name == "slots")
            {
                return dirEntry(dirAt(At::Slots));
            }
            if (name == "drivers_probe")
            {
                return fileEntry(dir, name, Type::WriteOnly, true);
            }
            if (name == "drivers_autoprobe")
            {
                return fileEntry(dir, name, Type::File, false);
            }
            return std::nullopt;
        case At::Devices:
        {
            std::optional<PciAddress> address = addressNamed(name);
            if (address && findDevice(model, *address))
            {
                return linkEntry(deviceDir(*address), std::string(name));
            }
            return std::nullopt;
        }
        case At::Device:
            return deviceChild(model, dir, name);
        case At::VfioDevDir:
        {
            const Device* d = findDevice(model, dir.address);
            if (d != nullptr && d->vfioDev >= 0 &&
                name == "vfio" + std::to_string(d->vfioDev))
            {
                SysDir target = dir;
                target.at = At::VfioDev;
                target.number = d->vfioDev;
                return dirEntry(target);
            }
            return std::nullopt;
        }
        case At::VfioDev:
            if (name == "dev")
            {
                return fileEntry(dir, name, Type::File, false);
            }
            return std::nullopt;
        case At::Drivers:
            if (isRegistered(model, name))
            {
                SysDir target = dirAt(At::Driver);
                target.name = std::string(name);
                return dirEntry(target);
            }
            return std::nullopt;
        case At::Driver:
        {
            for (std::string_view file : driverFiles)
            {
                if (name == file)
                {
                    return fileEntry(dir, name, Type::WriteOnly, true);
                }
            }
            const Driver* driver = findDriver(model, dir.name);
            if (name == "module" && driver != nullptr)
            {
                SysDir target = dirAt(At::Module);
                target.name = driver->module;
                return linkEntry(target, driver->module);
            }
            std::optional<PciAddress> address = addressNamed(name);
            const Device* d = address ? findDevice(model, *address) : nullptr;
            if (d != nullptr && d->driver == dir.name)
            {
                return linkEntry(deviceDir(*address), std::string(name));
            }
            return std::nullopt;
        }
        case At::Slots:
            return std::nullopt;
        case At::Kernel:
            if (name == "iommu_groups")
            {
                return dirEntry(dirAt(At::Groups));
            }
            return std::nullopt;
        case At::Groups:
        {
            int group = numberNamed(name);
            if (groupExists(model, group))
            {
                SysDir target = dirAt(At::Group);
                target.number = group;
                return dirEntry(target);
            }
            return std::nullopt;
        }
        case At::Group:
            if (name == "devices")
            {
                SysDir target = dir;
                target.at = At::GroupDevices;
                return dirEntry(target);
            }
            if (name == "type")
            {
                return fileEntry(dir, name, Type::File, false);
            }
            return std::nullopt;
        case At::GroupDevices:
        {
            std::optional<PciAddress> address = addressNamed(name);
            const Device* d = address ? findDevice(model, *address) : nullptr;
            if (d != nullptr && d->iommuGroup == dir.number)
            {
                return linkEntry(deviceDir(*address), std::string(name));
            }
            return std::nullopt;
        }
        case At::Modules:
        {
            const Module* m = findModule(model, name);
            if (m != nullptr && m->loaded && m->name == name)
            {
                SysDir target = dirAt(At::Module);
                target.name = std::string(name);
                return dirEntry(target);
            }
            return std::nullopt;
        }
        case At::Module:
        {
            const Module* m = findModule(model, dir.name);
            if (name == "drivers" && m != nullptr && !m->drivers.empty())
            {
                SysDir target = dir;
                target.at = At::ModuleDrivers;
                return dirEntry(target);
            }
            if (name == "initstate")
            {
                return fileEntry(dir, name, Type::File, false);
            }
            return std::nullopt;
        }
        case At::ModuleDrivers:
        {
            const Module* m = findModule(model, dir.name);
            if (m == nullptr || !name.starts_with("pci:"))
            {
                return std::nullopt;
            }
            std::string driver(name.substr(4));
            if (std::find(m->drivers.begin(), m->drivers.end(), driver) ==
                m->drivers.end())
            {
                return std::nullopt;
            }
            SysDir target = dirAt(At::Driver);
            target.name = driver;
            return linkEntry(target, driver);
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<SysEntry> lookup(const Model& model, std::string_view path)
{
    SysEntry current = dirEntry(dirAt(At::Root));
    std::vector<std::string_view> parts = split(path, '/');
    // Tolerate one trailing slash, as path resolution does for dirs.
    if (parts.size() > 1 && parts.back().empty())
    {
        parts.pop_back();
    }
    if (path.empty())
    {
        return current;
    }
    for (std::string_view part : parts)
    {
        if (current.type != Type::Dir && current.type != Type::Link)
        {
            return std::nullopt; // ENOTDIR
        }
        if (part.empty() || part == "." || part == "..")
        {
            return std::nullopt;
        }
        std::optional<SysEntry> next = child(model, current.dir, part);
        if (!next)
        {
            return std::nullopt;
        }
        current = std::move(*next);
    }
    return current;
}

std::vector<std::string> childNames(const Model& model, const SysDir& dir)
{
    std::vector<std::string> names;
    switch (dir.at)
    {
        case At::Root:
            names = {"bus", "kernel", "module"};
            break;
        case At::Bus:
            names = {"pci"};
            break;
        case At::BusPci:
            names = {"devices", "drivers", "drivers_autoprobe", "drivers_probe",
                     "slots"};
            break;
        case At::Devices:
            for (const auto& [address, d] : model.devices)
            {
                names.push_back(address.str());
            }
            break;
        case At::Device:
            if (const Device* d = findDevice(model, dir.address))
            {
                names = deviceChildNames(model, *d);
            }
            break;
        case At::VfioDevDir:
            if (const Device* d = findDevice(model, dir.address);
                d != nullptr && d->vfioDev >= 0)
            {
                names.push_back("vfio" + std::to_string(d->vfioDev));
            }
            break;
        case At::VfioDev:
            names = {"dev"};
            break;
        case At::Drivers:
            names = model.registered;
            break;
        case At::Driver:
            names.assign(std::begin(driverFiles), std::end(driverFiles));
            names.emplace_back("module");
            for (const auto& [address, d] : model.devices)
            {
                if (d.driver == dir.name)
                {
                    names.push_back(address.str());
                }
            }
            break;
        case At::Slots:
            break;
        case At::Kernel:
            names = {"iommu_groups"};
            break;
        case At::Groups:
        {
            std::vector<int> groups;
            for (const auto& [address, d] : model.devices)
            {
                if (d.iommuGroup >= 0)
                {
                    groups.push_back(d.iommuGroup);
                }
            }
            std::sort(groups.begin(), groups.end());
            groups.erase(std::unique(groups.begin(), groups.end()),
                         groups.end());
            for (int group : groups)
            {
                names.push_back(std::to_string(group));
            }
            break;
        }
        case At::Group:
            names = {"devices", "type"};
            break;
        case At::GroupDevices:
            for (const auto& [address, d] : model.devices)
            {
                if (d.iommuGroup == dir.number)
                {
                    names.push_back(address.str());
                }
            }
            break;
        case At::Modules:
            for (const Module& m : model.modules)
            {
                if (m.loaded)
                {
                    names.push_back(m.name);
                }
            }
            break;
        case At::Module:
            if (const Module* m = findModule(model, dir.name);
                m != nullptr && !m->drivers.empty())
            {
                names.emplace_back("drivers");
            }
            names.emplace_back("initstate");
            break;
        case At::ModuleDrivers:
            if (const Module* m = findModule(model, dir.name))
            {
                for (const std::string& driver : m->drivers)
                {
                    names.push_back("pci:" + driver);
                }
            }
            break;
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace vfiod::sim
