#pragma once

#include "sim/sim_model.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The simulated sysfs tree: which paths exist, what they are and
 * what reading them gives, computed from a Model on demand (nothing is
 * materialised, so 4096 devices cost nothing until looked at).
 *
 * Directories are identified after following links: "bus/pci/devices/X"
 * is the device directory, "bus/pci/devices/X/driver" leads to
 * "bus/pci/drivers/D", and so on, as path resolution in the kernel would.
 */
namespace vfiod::sim
{

/** @brief A directory of the simulated sysfs. */
struct SysDir
{
    enum class At
    {
        Root,
        Bus,
        BusPci,
        Devices,
        Device,     ///< address
        VfioDevDir, ///< address: <device>/vfio-dev
        VfioDev,    ///< address, number: <device>/vfio-dev/vfio<k>
        Drivers,
        Driver, ///< name
        Slots,
        Kernel,
        Groups,
        Group,        ///< number
        GroupDevices, ///< number
        Modules,
        Module,        ///< name
        ModuleDrivers, ///< name
    };

    At at = At::Root;
    PciAddress address;
    std::string name;
    int number = -1;
};

/** @brief One entry of a directory. */
struct SysEntry
{
    enum class Type
    {
        Dir,
        Link,      ///< always to a directory here
        File,      ///< readable attribute (writable if the flag says so)
        WriteOnly, ///< mode 0200: reading fails with EACCES
    };

    Type type = Type::File;
    /// Dir and Link: the directory reached; File and WriteOnly: the
    /// directory holding the attribute.
    SysDir dir;
    /// File and WriteOnly: the attribute name; Link: the last component of
    /// the link target (what readlink + basename gives).
    std::string name;
    bool writable = false;
};

/**
 * @brief Resolves a relative path, following links in every component but
 * the last. @return std::nullopt when it does not exist.
 */
std::optional<SysEntry> lookup(const Model& model, std::string_view path);

/** @brief The names in a directory, sorted as strings. */
std::vector<std::string> childNames(const Model& model, const SysDir& dir);

} // namespace vfiod::sim
