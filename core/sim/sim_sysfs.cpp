#include "sim/sim_sysfs.hpp"

#include "sim/sim_sysfs_dirs.hpp"
#include "sim/sim_text.hpp"

#include <algorithm>
#include <iterator>
#include <span>

namespace vfiod::sim
{

using namespace tree;

namespace
{

/**
 * @brief A child every directory of its kind has, whatever the model:
 * a directory (of kind @c target, keeping the parent's address, name and
 * number) or an attribute file.
 */
struct FixedChild
{
    std::string_view name;
    Type type;
    At target; ///< Dir only
};

constexpr FixedChild subdir(std::string_view name, At target)
{
    return {name, Type::Dir, target};
}

constexpr FixedChild readOnly(std::string_view name)
{
    return {name, Type::File, At::Root};
}

/** @brief Mode 0200, as the kernel's store-only attributes. */
constexpr FixedChild writeOnly(std::string_view name)
{
    return {name, Type::WriteOnly, At::Root};
}

constexpr FixedChild rootChildren[] = {
    subdir("bus", At::Bus),
    subdir("kernel", At::Kernel),
    subdir("module", At::Modules),
};
constexpr FixedChild busChildren[] = {subdir("pci", At::BusPci)};
constexpr FixedChild busPciChildren[] = {
    subdir("devices", At::Devices), subdir("drivers", At::Drivers),
    readOnly("drivers_autoprobe"),  writeOnly("drivers_probe"),
    subdir("slots", At::Slots),
};
constexpr FixedChild vfioDevChildren[] = {readOnly("dev")};
constexpr FixedChild driverChildren[] = {
    writeOnly("bind"),
    writeOnly("new_id"),
    writeOnly("remove_id"),
    writeOnly("unbind"),
};
constexpr FixedChild kernelChildren[] = {
    subdir("iommu_groups", At::Groups),
};
constexpr FixedChild groupChildren[] = {
    subdir("devices", At::GroupDevices),
    readOnly("type"),
};
constexpr FixedChild moduleChildren[] = {readOnly("initstate")};

/**
 * @brief One kind of directory: the children it always has, and those
 * the model decides (nullptr: none).
 */
struct DirKind
{
    At at;
    std::span<const FixedChild> fixed;
    const DirContents* contents = nullptr;
};

/** @brief Every kind of directory, in the order of SysDir::At. */
constexpr DirKind dirKinds[] = {
    {At::Root, rootChildren},
    {At::Bus, busChildren},
    {At::BusPci, busPciChildren},
    {At::Devices, {}, &devicesContents},
    {At::Device, {}, &deviceContents},
    {At::VfioDevDir, {}, &vfioDevDirContents},
    {At::VfioDev, vfioDevChildren},
    {At::Drivers, {}, &driversContents},
    {At::Driver, driverChildren, &driverContents},
    {At::Slots, {}},
    {At::Kernel, kernelChildren},
    {At::Groups, {}, &groupsContents},
    {At::Group, groupChildren},
    {At::GroupDevices, {}, &groupDevicesContents},
    {At::Modules, {}, &modulesContents},
    {At::Module, moduleChildren, &moduleContents},
    {At::ModuleDrivers, {}, &moduleDriversContents},
};

constexpr bool inEnumOrder()
{
    for (std::size_t i = 0; i < std::size(dirKinds); ++i)
    {
        if (dirKinds[i].at != At(i))
        {
            return false;
        }
    }
    return std::size(dirKinds) == std::size_t(At::ModuleDrivers) + 1;
}
static_assert(inEnumOrder(), "dirKinds is indexed by SysDir::At");

const DirKind& kindOf(const SysDir& dir)
{
    return dirKinds[std::size_t(dir.at)];
}

std::optional<SysEntry> child(const Model& model, const SysDir& dir,
                              std::string_view name)
{
    const DirKind& kind = kindOf(dir);
    for (const FixedChild& fixed : kind.fixed)
    {
        if (fixed.name != name)
        {
            continue;
        }
        if (fixed.type != Type::Dir)
        {
            // Every fixed write-only attribute takes writes.
            return fileEntry(dir, name, fixed.type,
                             fixed.type == Type::WriteOnly);
        }
        SysDir target = dir;
        target.at = fixed.target;
        return dirEntry(target);
    }
    return kind.contents != nullptr ? kind.contents->child(model, dir, name)
                                    : std::nullopt;
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
    const DirKind& kind = kindOf(dir);
    std::vector<std::string> names;
    for (const FixedChild& fixed : kind.fixed)
    {
        names.emplace_back(fixed.name);
    }
    if (kind.contents != nullptr)
    {
        kind.contents->names(model, dir, names);
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace vfiod::sim
