#include "sim/sim_attributes.hpp"
#include "sim/sim_migration.hpp"
#include "sim/sim_sysfs_dirs.hpp"

#include <span>

namespace vfiod::sim::tree
{

namespace
{

/** @brief A device attribute; writable ones are flagged. */
struct AttrSpec
{
    std::string_view name;
    Type type;
    bool writable;
};

/** @brief Attributes every device has. */
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

/** @brief Attributes a device has when it has the capability they need. */
struct AttrGroup
{
    bool (*present)(const Device&);
    std::span<const AttrSpec> specs;
};

constexpr AttrGroup attrGroups[] = {
    {[](const Device&) { return true; }, commonAttrs},
    {[](const Device& d) { return !d.resetSupported.empty(); }, resetAttrs},
    {[](const Device& d) { return d.sriovCapable(); }, sriovAttrs},
};

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

/** @brief The simulation's own attributes (sim_migration.hpp): unlisted. */
std::optional<SysEntry> simAttribute(const SysDir& dir, const Device& d,
                                     std::string_view name)
{
    if (name == resetCountAttr)
    {
        return fileEntry(dir, name, Type::File, false);
    }
    if (d.migrationFlags != 0 && name.starts_with(migrationPrefix))
    {
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
    return std::nullopt;
}

/** @brief driver, iommu_group, physfn, virtfn<k> and vfio-dev. */
std::optional<SysEntry> deviceLink(const Model& model, const Device& d,
                                   std::string_view name)
{
    if (name == "driver" && !d.driver.empty())
    {
        return linkEntry(namedDir(At::Driver, d.driver), d.driver);
    }
    if (name == "iommu_group" && d.iommuGroup >= 0)
    {
        return linkEntry(numberedDir(At::Group, d.iommuGroup),
                         std::to_string(d.iommuGroup));
    }
    if (name == "physfn" && d.physfn && findDevice(model, *d.physfn))
    {
        return linkEntry(deviceDir(*d.physfn), d.physfn->str());
    }
    if (name.starts_with("virtfn"))
    {
        int index = numberNamed(name.substr(6));
        const Device* vf =
            index >= 0 ? vfOf(model, d, unsigned(index)) : nullptr;
        if (vf != nullptr)
        {
            return linkEntry(deviceDir(vf->address), vf->address.str());
        }
    }
    if (name == "vfio-dev" && d.vfioDev >= 0)
    {
        SysDir target = dirAt(At::VfioDevDir);
        target.address = d.address;
        return dirEntry(target);
    }
    return std::nullopt;
}

std::optional<SysEntry> devicesChild(const Model& model, const SysDir&,
                                     std::string_view name)
{
    return deviceLinkNamed(model, name, [](const Device&) { return true; });
}

void devicesNames(const Model& model, const SysDir&,
                  std::vector<std::string>& names)
{
    for (const auto& [address, d] : model.devices)
    {
        names.push_back(address.str());
    }
}

std::optional<SysEntry> deviceChild(const Model& model, const SysDir& dir,
                                    std::string_view name)
{
    const Device* d = findDevice(model, dir.address);
    if (d == nullptr)
    {
        return std::nullopt;
    }
    for (const AttrGroup& group : attrGroups)
    {
        if (!group.present(*d))
        {
            continue;
        }
        for (const AttrSpec& spec : group.specs)
        {
            if (spec.name == name)
            {
                return fileEntry(dir, name, spec.type, spec.writable);
            }
        }
    }
    if (std::optional<SysEntry> e = simAttribute(dir, *d, name))
    {
        return e;
    }
    return deviceLink(model, *d, name);
}

void deviceNames(const Model& model, const SysDir& dir,
                 std::vector<std::string>& names)
{
    const Device* d = findDevice(model, dir.address);
    if (d == nullptr)
    {
        return;
    }
    for (const AttrGroup& group : attrGroups)
    {
        if (group.present(*d))
        {
            for (const AttrSpec& spec : group.specs)
            {
                names.emplace_back(spec.name);
            }
        }
    }
    if (!d->driver.empty())
    {
        names.emplace_back("driver");
    }
    if (d->iommuGroup >= 0)
    {
        names.emplace_back("iommu_group");
    }
    if (d->physfn && findDevice(model, *d->physfn))
    {
        names.emplace_back("physfn");
    }
    for (unsigned i = 0; i < d->sriovNumVfs; ++i)
    {
        if (vfOf(model, *d, i) != nullptr)
        {
            names.push_back("virtfn" + std::to_string(i));
        }
    }
    if (d->vfioDev >= 0)
    {
        names.emplace_back("vfio-dev");
    }
}

std::optional<SysEntry> vfioDevDirChild(const Model& model, const SysDir& dir,
                                        std::string_view name)
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

void vfioDevDirNames(const Model& model, const SysDir& dir,
                     std::vector<std::string>& names)
{
    if (const Device* d = findDevice(model, dir.address);
        d != nullptr && d->vfioDev >= 0)
    {
        names.push_back("vfio" + std::to_string(d->vfioDev));
    }
}

} // namespace

const DirContents devicesContents{devicesChild, devicesNames};
const DirContents deviceContents{deviceChild, deviceNames};
const DirContents vfioDevDirContents{vfioDevDirChild, vfioDevDirNames};

} // namespace vfiod::sim::tree
