#pragma once

#include "linux/linux_host.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vfiod::test
{

/** @brief What SysfsTree::addDevice creates. */
struct FakeDevice
{
    std::string address{}; ///< canonical, e.g. "0000:03:00.0"
    uint16_t vendorId = 0x8086;
    uint16_t deviceId = 0x10d3;
    uint16_t subsystemVendorId = 0x8086;
    uint16_t subsystemDeviceId = 0x0000;
    uint32_t classCode = 0x020000;
    uint8_t revision = 0;
    /// Written to config byte 0x0e (with the multi-function bit if set).
    uint8_t headerType = 0;
    bool multiFunction = false;
    /// Size of the binary config file: 256, 4096, or less to test the
    /// fallback to the class code (0 means no config file at all).
    size_t configSize = 256;
    std::string driver{};         ///< "" unbound; the driver is added if new
    std::string driverOverride{}; ///< "" is written as "(null)"
    int iommuGroup = -1;          ///< -1 means no iommu_group link
    int numaNode = -1;
    /// reset_method contents; when empty neither reset_method nor reset
    /// exist, as for a device without any reset method.
    std::vector<std::string> resetMethods{};
    /// Makes the device an SR-IOV PF with sriov_* attributes; add its VFs
    /// with SysfsTree::addVirtfn.
    std::optional<unsigned> sriovTotalVfs{};
};

/**
 * @brief A sysfs-like tree in a fresh temporary directory, laid out like
 * the real one so that LinuxHost (and anything above it) cannot tell the
 * difference for the files it uses. Removed again on destruction.
 *
 * Layout below root():
 * @code
 * sys/devices/pci0000:00/<BDF>/{vendor,device,class,config,driver_override,
 *                              modalias,numa_node,reset_method,reset,...}
 * sys/devices/pci0000:00/<BDF>/driver      -> ../../../bus/pci/drivers/<d>
 * sys/devices/pci0000:00/<BDF>/iommu_group -> ../../../kernel/iommu_groups/N
 * sys/devices/pci0000:00/<BDF>/physfn, virtfnN -> ../<BDF>
 * sys/bus/pci/devices/<BDF>   -> ../../../devices/pci0000:00/<BDF>
 * sys/bus/pci/drivers/<d>/{bind,unbind,new_id,remove_id,<BDF> link,module}
 * sys/bus/pci/{drivers_probe,drivers_autoprobe,rescan}
 * sys/kernel/iommu_groups/N/devices/<BDF> -> ../../../../devices/...
 * sys/module/<m>/drivers/pci:<d> -> ../../../bus/pci/drivers/<d>
 * dev/                                  (empty; see createDevNode)
 * lib/modules/<release>/modules.alias   (empty; see setModulesAlias)
 * bin/modprobe                          (the fake modprobe, see below)
 * @endcode
 * Domains other than 0000 go below devices/pci<domain>:00.
 *
 * Everything is a plain file or a real relative symlink, so there is no
 * kernel behaviour: writing "0000:03:00.0" to drivers/vfio-pci/bind only
 * stores that text (read it back with readFile). Tests that need a reaction
 * make it themselves with bindDriver() and friends.
 *
 * The fake modprobe (roots().modprobe) is a /bin/sh script. For
 * "modprobe ... -- MODULE" it appends its arguments as one line to
 * modprobeLog(), then:
 *  - if failModprobe(MODULE, message) was called, prints the message to
 *    stderr and exits 1 (an empty message mimics `modprobe -q` for a
 *    missing module: exit 1, no output);
 *  - otherwise creates the driver MODULE registers, like addDriver():
 *    the name set by setModuleDriver(), else "vfio-pci" for vfio_pci,
 *    "pci-stub" for pci_stub, else MODULE itself; and exits 0.
 *
 * Writes that must block, like an unbind from vfio-pci while a VM holds
 * the device, are made with makeFifo(): LinuxHost::write then blocks in
 * open(2) until releaseFifo() opens the read end.
 *
 * Not thread safe itself; the tree on disk may of course be used from any
 * thread. The constructor ignores SIGPIPE for the process so that a writer
 * released by the destructor cannot kill the test.
 */
class SysfsTree
{
  public:
    /// The kernel release the tree pretends to run.
    static constexpr const char* release = "6.1.0-vfiod-test";

    SysfsTree();
    ~SysfsTree();
    SysfsTree(const SysfsTree&) = delete;
    SysfsTree& operator=(const SysfsTree&) = delete;

    const std::filesystem::path& root() const
    {
        return rootDir;
    }
    std::filesystem::path sysDir() const
    {
        return rootDir / "sys";
    }
    std::filesystem::path devDir() const
    {
        return rootDir / "dev";
    }
    /// root()/lib/modules: modprobe's "-d root()" finds it there.
    std::filesystem::path modulesDir() const
    {
        return rootDir / "lib" / "modules";
    }

    /** @brief Roots for a LinuxHost on this tree, with the fake modprobe. */
    LinuxRoots roots() const;

    // -- devices -------------------------------------------------------

    /** @brief Creates a device with all its attributes and links. */
    void addDevice(const FakeDevice& device);

    /** @brief Removes a device, its links and its group membership. */
    void removeDevice(const std::string& address);

    /** @brief "devices/pci0000:00/<BDF>" relative to sysDir(). */
    std::string devicePath(const std::string& address) const;

    /**
     * @brief Makes @p vf (which must exist) VF number @p index of @p pf:
     * pf/virtfnN and vf/physfn links, and pf/sriov_numvfs raised to cover
     * it.
     */
    void addVirtfn(const std::string& pf, unsigned index,
                   const std::string& vf);

    /** @brief Links the device into IOMMU group @p group (-1: none). */
    void setIommuGroup(const std::string& address, int group);

    /**
     * @brief Creates bus/pci/slots/<name>/address holding @p address:
     * "DDDD:BB:DD" for one device number, "DDDD:BB" for a whole bus.
     */
    void addSlot(const std::string& name, const std::string& address);

    // -- drivers -------------------------------------------------------

    /**
     * @brief Creates bus/pci/drivers/<driver> with bind, unbind, new_id
     * and remove_id, and module/<module>/drivers/pci:<driver> (module
     * defaults to the driver name with '-' replaced by '_'). Idempotent.
     */
    void addDriver(const std::string& driver, std::string module = "");

    /** @brief Sets the device's driver link (adding the driver if new). */
    void bindDriver(const std::string& address, const std::string& driver);

    /** @brief Removes the device's driver link. */
    void unbindDriver(const std::string& address);

    /** @brief The driver the fake modprobe creates for @p module. */
    void setModuleDriver(const std::string& module, const std::string& driver);

    /** @brief Makes the fake modprobe fail for @p module (see above). */
    void failModprobe(const std::string& module, const std::string& message);

    /** @brief Argument lines of every fake modprobe run so far. */
    std::vector<std::string> modprobeLog() const;

    // -- files ---------------------------------------------------------

    /** @brief Reads a file below sysDir() ("" when missing). */
    std::string readFile(const std::string& sysPath) const;

    /** @brief Creates or overwrites a file below sysDir(), with parents. */
    void writeFile(const std::string& sysPath, const std::string& content);

    /** @brief Reads attribute @p attr of a device ("" when missing). */
    std::string readAttr(const std::string& address,
                         const std::string& attr) const;

    /** @brief Creates or overwrites attribute @p attr of a device. */
    void writeAttr(const std::string& address, const std::string& attr,
                   const std::string& content);

    /** @brief Creates a symlink below sysDir() to @p target (relative). */
    void symlink(const std::string& sysPath, const std::string& target);

    /** @brief Removes a file, link or directory tree below sysDir(). */
    void remove(const std::string& sysPath);

    /**
     * @brief Replaces a file below sysDir() with a FIFO, so that a write to
     * it blocks until releaseFifo().
     */
    void makeFifo(const std::string& sysPath);

    /**
     * @brief Opens and keeps the FIFO's read end: writers blocked on it
     * return, later ones do not block. Idempotent.
     */
    void releaseFifo(const std::string& sysPath);

    /** @brief What writers put into a released FIFO so far. */
    std::string fifoContents(const std::string& sysPath);

    // -- /dev and modules ----------------------------------------------

    /** @brief Creates an (ordinary) file as device node, e.g. "vfio/12". */
    void createDevNode(const std::string& devPath);

    /** @brief Writes lib/modules/<release>/modules.alias. */
    void setModulesAlias(const std::string& text);

  private:
    std::filesystem::path sys(const std::string& sysPath) const;
    void writeModprobeScript();

    std::filesystem::path rootDir;
    std::map<std::string, int> fifoReaders;
};

} // namespace vfiod::test
