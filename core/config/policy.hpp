#pragma once

#include "base/pci_address.hpp"
#include "pci/pci_device.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/*
 * The administrator's device policy: /etc/vfiod/policy.d/NAME.toml.
 *
 * Each file holds any number of rules; files are read in byte order of
 * their names, rules in file order, and the first rule that matches a
 * device wins. A rule:
 *
 *   [[rule]]
 *   name = "gpu-passthrough"      # unique across all files
 *
 *   [rule.match]                  # every selector given must match
 *   vendor = 0x10de               # u16
 *   device = [0x2204, 0x1aef]     # u16, or a list: any of them
 *   subsystem_vendor = 0x1458     # u16
 *   subsystem_device = 0x403b     # u16
 *   class = 0x030000              # u32, 24 bits
 *   class_mask = 0xff0000         # default 0xffffff; needs class
 *   address = ["0000:01:00.0"]    # one address or a list
 *   driver = ["nouveau"]          # current driver, one name or a list
 *   pf = "0000:03:00.0"           # matches the VFs of this PF ...
 *   vf_index = "0-7"              # ... with these indexes: "N", "N-M",
 *                                 #     N, or a list of N; needs pf
 *   slot = ["3"]                  # physical slot name, one or a list
 *   all = true                    # matches every device; alone only
 *
 *   [rule.actions]                # optional: absent means defaults
 *   bind = "vfio-pci"             # or "auto", or "<x>_vfio_pci";
 *                                 # absent: no autobind
 *   reset_method = "flr"          # device_specific acpi flr af_flr pm
 *                                 # bus cxl_bus; absent: kernel's order
 *   plugin = "nvidia"             # absent: no plugin
 *   users = ["alice"]             # who may assign the device
 *   groups = ["kvm"]
 *   on_release = "vfio"           # or "host" (return to host driver)
 *   reset_on_release = true
 *
 * A match without any selector is refused, so that a rule matching every
 * device is always written as such (all = true). A rule without actions
 * is useful too: it matches first and so keeps later rules off a device.
 *
 * conf/policy.d/50-example.toml.example is the commented example.
 */

namespace vfiod
{

/** @brief One "N" or "N-M" piece of a vf_index selector, inclusive. */
struct VfIndexRange
{
    unsigned first = 0;
    unsigned last = 0;

    bool operator==(const VfIndexRange&) const = default;
};

/**
 * @brief The selectors of a rule. Unset optionals and empty lists do not
 * constrain; a list matches when any element does.
 */
struct PolicyMatch
{
    bool all = false; ///< all = true: no selectors, matches every device
    std::optional<uint16_t> vendor;
    std::vector<uint16_t> devices;
    std::optional<uint16_t> subsystemVendor;
    std::optional<uint16_t> subsystemDevice;
    std::optional<uint32_t> classCode;
    uint32_t classMask = 0xffffff;
    std::vector<PciAddress> addresses;
    std::vector<std::string> drivers;    ///< the currently bound driver
    std::optional<PciAddress> pf;        ///< the device is a VF of this PF
    std::vector<VfIndexRange> vfIndexes; ///< empty: any VF of pf
    std::vector<std::string> slots;      ///< PciDevice::physicalSlot

    /** @brief Whether every selector given matches @p device. */
    bool matches(const PciDevice& device) const;
};

/** @brief What happens to a device when its assignment ends. */
enum class OnRelease
{
    Vfio, ///< stay on vfio, ready for the next user
    Host, ///< go back to the driver it had before vfio
};

/** @brief "vfio", "host". */
std::string_view onReleaseName(OnRelease value) noexcept;

/** @brief What vfiod does with a device a rule matches. */
struct PolicyActions
{
    /// "" no autobind; "vfio-pci"; "auto" (best match from modules.alias);
    /// or a vfio-pci variant driver such as "mlx5_vfio_pci".
    std::string bind;
    std::string resetMethod;         ///< "" leaves the kernel's order
    std::string plugin;              ///< "" no plugin
    std::vector<std::string> users;  ///< may assign the device
    std::vector<std::string> groups; ///< may assign the device
    OnRelease onRelease = OnRelease::Vfio;
    bool resetOnRelease = true;
};

/** @brief One [[rule]] and where it was defined. */
struct PolicyRule
{
    std::string name;
    std::string file; ///< the path it was read from
    int line = 0;     ///< line of its [[rule]] header
    PolicyMatch match;
    PolicyActions actions;
};

/**
 * @brief Plain data for Explain: which rule matched a device and what
 * vfiod would do with it. Without a match the actions are the defaults.
 */
struct PolicyExplanation
{
    bool matched = false;
    std::string rule; ///< "" without a match
    std::string file; ///< "" without a match
    int line = 0;     ///< 0 without a match
    PolicyActions actions;
};

/** @brief Every rule of every file, in the order they are tried. */
struct Policy
{
    std::vector<PolicyRule> rules;
    std::vector<std::string> files; ///< the files read, in order

    /**
     * @brief The first rule that matches @p device.
     * @return nullptr when none does; otherwise a pointer into rules.
     */
    const PolicyRule* match(const PciDevice& device) const;

    /** @brief match() as plain data. */
    PolicyExplanation explain(const PciDevice& device) const;
};

/**
 * @brief Parses one policy file's text and appends its rules to @p policy
 * (and @p sourceName to its files). Rule names must be unique across all
 * of @p policy.
 * @param sourceName the file name used in messages and PolicyRule::file.
 * @throws Error(Errc::InvalidArgument) "FILE:LINE:COLUMN: what is wrong";
 *         @p policy is then left unchanged.
 */
void parsePolicyFile(Policy& policy, std::string_view text,
                     const std::string& sourceName);

/**
 * @brief Reads every DIR/NAME.toml in byte order of the names. A missing
 * directory is an empty policy. Hidden files, other names and dangling
 * symlinks are skipped, and a link to /dev/null masks a file; any other
 * NAME.toml that is not a regular file after following symlinks (a FIFO,
 * a directory, a link to /dev/zero) is refused, as is a file larger than
 * toml_reader::maxFileSize (toml_reader::readFile).
 * @throws Error(Errc::InvalidArgument) as parsePolicyFile, or "FILE: ..."
 *         when a file or the directory cannot be read or is refused;
 *         Error(Errc::NotFound) when a listed file is gone by the time it is
 *         read.
 */
Policy loadPolicyDir(const std::string& dir);

} // namespace vfiod
