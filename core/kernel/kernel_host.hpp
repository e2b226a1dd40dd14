#pragma once

#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/pci_address.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

/**
 * @brief One uevent, as the kernel broadcasts it on the netlink socket (or as
 * the simulated kernel logs it).
 */
struct Uevent
{
    uint64_t seqnum = 0;
    std::string action;    ///< add, remove, bind, unbind, change
    std::string subsystem; ///< pci, vfio, vfio-dev
    std::string sysname;   ///< "0000:03:00.0", "12", "vfio0"
    std::string devpath;   ///< "/devices/pci0000:00/0000:00:03.0"
    std::string driver;    ///< DRIVER= (bind events), else empty
    std::map<std::string, std::string> properties; ///< everything else
};

/** @brief A stream of uevents that can be polled. */
class UeventSource
{
  public:
    virtual ~UeventSource() = default;

    /** @brief Becomes readable (POLLIN) when events are pending. */
    virtual int fd() const = 0;

    /** @brief Returns the pending events without blocking, oldest first. */
    virtual std::vector<Uevent> receive() = 0;
};

/**
 * @brief An open VFIO device (legacy group interface): the container and
 * group stay open as long as the device fd, as QEMU keeps them.
 */
struct VfioDeviceFds
{
    UniqueFd container;
    UniqueFd group;
    UniqueFd device;
};

/** @brief A process that holds a VFIO node open. */
struct VfioHolder
{
    int pid = 0;
    std::string command; ///< its comm: "qemu-system-x86"
    /// The node, relative to the dev root: "vfio/7" (a group),
    /// "vfio/devices/vfio0" (a device's cdev).
    std::string node;

    bool operator==(const VfioHolder&) const = default;
};

/**
 * @brief The narrow boundary between vfiod and the kernel.
 *
 * Everything vfiod does to devices goes through these few calls, expressed
 * in the kernel's own terms: sysfs files, module loading, device nodes and
 * uevents. Two backends implement it: LinuxHost (real files under
 * configurable roots) and SimHost (a simulated kernel that reproduces
 * sysfs semantics). Code above this boundary cannot tell them apart.
 *
 * Paths are relative: sysfs paths to the sysfs root
 * ("bus/pci/devices/0000:03:00.0/vendor"), device node paths to the /dev
 * root ("vfio/12"). Callers build them with the helpers in sysfs_layout.hpp
 * from validated components only.
 *
 * All methods are safe to call from several threads at once.
 */
class KernelHost
{
  public:
    virtual ~KernelHost() = default;

    /** @brief "linux" or "sim". */
    virtual std::string_view backend() const noexcept = 0;

    /**
     * @brief Reads a sysfs attribute as the kernel prints it (trailing
     * newline included).
     * @return std::nullopt when the file does not exist (ENOENT).
     * @throws std::system_error with the kernel's errno for other failures.
     */
    virtual std::optional<std::string> read(const std::string& path) = 0;

    /**
     * @brief Writes a sysfs attribute in one write(2), like `echo -n`.
     *
     * May block for as long as the kernel blocks (an unbind from vfio-pci
     * waits until every fd on the device is closed); callers that serve
     * requests run it through KernelCall with a timeout.
     * @throws std::system_error with the kernel's errno (ENODEV, EBUSY,
     * EINVAL, ENOENT, ...).
     */
    virtual void write(const std::string& path, std::string_view value) = 0;

    /**
     * @brief The last component of a symlink's target ("e1000e" for
     * .../driver -> ../../../bus/pci/drivers/e1000e).
     * @return std::nullopt when there is no such link.
     */
    virtual std::optional<std::string>
        readLinkName(const std::string& path) = 0;

    /**
     * @brief The entries of a sysfs directory, sorted.
     * @return an empty vector when the directory does not exist.
     */
    virtual std::vector<std::string> list(const std::string& path) = 0;

    /** @brief Whether a sysfs path exists. */
    virtual bool exists(const std::string& path) = 0;

    /**
     * @brief Runs @p reads, a group of read-only calls on this host (read,
     * readLinkName, list, exists, devNodeExists) that the backend may serve
     * at one moment, as if none of them took long.
     *
     * SimHost takes its lock and checks its state once for the whole group
     * rather than once per call; LinuxHost just runs them. @p reads must
     * not write, load modules or wait.
     */
    virtual void readTogether(const std::function<void()>& reads)
    {
        reads();
    }

    /**
     * @brief Loads a kernel module (modprobe NAME).
     * @throws Error(Errc::NotFound) when no such module exists,
     * Error(Errc::Failed) when loading it fails.
     */
    virtual void modprobe(const std::string& module) = 0;

    /**
     * @brief The running kernel's modules.alias text ("" when absent).
     */
    virtual std::string modulesAlias() = 0;

    /** @brief Whether a device node exists, e.g. "vfio/12". */
    virtual bool devNodeExists(const std::string& path) = 0;

    /**
     * @brief Waits until a device node exists, or the timeout passes.
     * @return whether the node exists.
     */
    virtual bool waitDevNode(const std::string& path,
                             std::chrono::milliseconds timeout) = 0;

    /** @brief Subscribes to uevents from now on. */
    virtual std::unique_ptr<UeventSource> openUevents() = 0;

    /**
     * @brief Opens a sysfs attribute with open(2) @p flags (O_CLOEXEC is
     * added), for plugins that need a descriptor (config, a simulated
     * migration stream).
     * @throws std::system_error with the errno, Error(NotSupported) for a
     *         backend without files to open.
     */
    virtual UniqueFd openAttribute(const std::string& path, int flags)
    {
        (void)flags;
        fail(Errc::NotSupported, "cannot open " + path + " on this host");
    }

    /**
     * @brief Opens the VFIO device of a device bound to a vfio driver:
     * container, group (must be viable), VFIO_GROUP_GET_DEVICE_FD.
     * @throws Error: NotSupported (no VFIO on this backend), NotFound,
     *         Busy (the group is open elsewhere), Failed.
     */
    virtual VfioDeviceFds openVfioDevice(const PciAddress& address)
    {
        fail(Errc::NotSupported,
             "this host has no VFIO device for " + address.str());
    }

    /**
     * @brief The processes, other than this one, that hold a VFIO group or
     * device node open: the VMMs using devices. The container
     * (/dev/vfio/vfio) holds no device and is not listed. A process that
     * exits while it is looked at, or whose fds cannot be read, is skipped.
     * A backend without processes (a recording) has none.
     */
    virtual std::vector<VfioHolder> vfioHolders()
    {
        return {};
    }
};

} // namespace vfiod
