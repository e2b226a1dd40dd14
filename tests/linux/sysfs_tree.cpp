// SysfsTree: sysfs test trees with real files and symlinks, laid out as
// the kernel lays them (devices, drivers with their bind/unbind files,
// IOMMU groups, modules, /dev/vfio). Over 500 lines on purpose: the
// layout is one model, and the writes it answers (driver_override, unbind,
// drivers_probe) act on all of it, as the kernel's do.
#include "sysfs_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;

namespace vfiod::test
{

namespace
{

[[noreturn]] void throwErrno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

std::string hex(unsigned value, int digits)
{
    char text[16];
    std::snprintf(text, sizeof(text), "0x%0*x\n", digits, value);
    return text;
}

std::string modalias(const FakeDevice& d)
{
    char text[96];
    std::snprintf(text, sizeof(text),
                  "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d.vendorId,
                  d.deviceId, d.subsystemVendorId, d.subsystemDeviceId,
                  (d.classCode >> 16) & 0xff, (d.classCode >> 8) & 0xff,
                  d.classCode & 0xff);
    return text;
}

/** @brief The first bytes of config space as the kernel would show them. */
std::string configSpace(const FakeDevice& d)
{
    std::string config(d.configSize, '\0');
    auto put = [&config](size_t offset, unsigned value, size_t bytes) {
        for (size_t i = 0; i < bytes && offset + i < config.size(); ++i)
        {
            config[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
        }
    };
    put(0x00, d.vendorId, 2);
    put(0x02, d.deviceId, 2);
    put(0x08, d.revision, 1);
    put(0x09, d.classCode, 3);
    put(0x0e, d.headerType | (d.multiFunction ? 0x80u : 0u), 1);
    if (d.headerType == 0)
    {
        put(0x2c, d.subsystemVendorId, 2);
        put(0x2e, d.subsystemDeviceId, 2);
    }
    return config;
}

std::string uevent(const FakeDevice& d)
{
    char ids[64];
    std::snprintf(ids, sizeof(ids),
                  "PCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n", d.vendorId,
                  d.deviceId, d.subsystemVendorId, d.subsystemDeviceId);
    char cls[32];
    std::snprintf(cls, sizeof(cls), "PCI_CLASS=%X\n", d.classCode);
    std::string text;
    if (!d.driver.empty())
    {
        text += "DRIVER=" + d.driver + "\n";
    }
    return text + cls + ids + "PCI_SLOT_NAME=" + d.address +
           "\nMODALIAS=" + modalias(d) + "\n";
}

std::string defaultModuleOf(std::string driver)
{
    for (char& c : driver)
    {
        if (c == '-')
        {
            c = '_';
        }
    }
    return driver;
}

void checkRelative(const std::string& path)
{
    fs::path p(path);
    for (const fs::path& part : p)
    {
        if (part == "..")
        {
            throw std::invalid_argument("SysfsTree: path escapes: " + path);
        }
    }
    if (p.is_absolute())
    {
        throw std::invalid_argument("SysfsTree: absolute path: " + path);
    }
}

/** @brief A symlink at @p link pointing relatively to @p target. */
void relativeLink(const fs::path& link, const fs::path& target)
{
    fs::create_directories(link.parent_path());
    std::error_code ignored;
    fs::remove(link, ignored);
    fs::create_symlink(target.lexically_relative(link.parent_path()), link);
}

const char* modprobeScript = R"(#!/bin/sh
# Fake modprobe written by vfiod's SysfsTree test helper.
root='@ROOT@'
echo "$*" >> "$root/modprobe.log"
module=
for arg
do
    module=$arg
done
if [ -e "$root/modprobe/fail/$module" ]
then
    cat "$root/modprobe/fail/$module" >&2
    exit 1
fi
if [ -e "$root/modprobe/driver/$module" ]
then
    driver=$(cat "$root/modprobe/driver/$module")
else
    case "$module" in
        vfio_pci|vfio-pci) driver=vfio-pci ;;
        pci_stub|pci-stub) driver=pci-stub ;;
        *) driver=$module ;;
    esac
fi
modname=$(echo "$module" | tr - _)
drv="$root/sys/bus/pci/drivers/$driver"
mkdir -p "$drv" "$root/sys/module/$modname/drivers"
for f in bind unbind new_id remove_id
do
    [ -e "$drv/$f" ] || : > "$drv/$f"
done
ln -sfn "../../../../module/$modname" "$drv/module"
ln -sfn "../../../bus/pci/drivers/$driver" \
    "$root/sys/module/$modname/drivers/pci:$driver"
exit 0
)";

} // namespace

SysfsTree::SysfsTree()
{
    // A writer released by the destructor may find the read end closed
    // again; that must be an EPIPE error, not the end of the test binary.
    std::signal(SIGPIPE, SIG_IGN);

    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
        "/vfiod-sysfs-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
    {
        throwErrno("mkdtemp " + pattern);
    }
    rootDir = pattern;

    for (const char* dir :
         {"sys/devices", "sys/bus/pci/devices", "sys/bus/pci/drivers",
          "sys/bus/pci/slots", "sys/kernel/iommu_groups", "sys/module", "dev",
          "bin", "modprobe/fail", "modprobe/driver"})
    {
        fs::create_directories(rootDir / dir);
    }
    writeFile("bus/pci/drivers_probe", "");
    writeFile("bus/pci/drivers_autoprobe", "1\n");
    writeFile("bus/pci/rescan", "");
    setModulesAlias("");
    writeModprobeScript();
}

SysfsTree::~SysfsTree()
{
    // Let writers still blocked on a FIFO go before the tree disappears.
    for (const auto& entry : fifoReaders)
    {
        ::close(entry.second);
    }
    std::error_code ignored;
    for (const auto& entry : fs::recursive_directory_iterator(rootDir, ignored))
    {
        if (entry.is_fifo(ignored))
        {
            int fd = ::open(entry.path().c_str(), O_RDONLY | O_NONBLOCK);
            if (fd >= 0)
            {
                ::close(fd);
            }
        }
    }
    fs::remove_all(rootDir, ignored);
}

LinuxRoots SysfsTree::roots() const
{
    LinuxRoots roots;
    roots.sysfs = sysDir();
    roots.dev = devDir();
    roots.modules = modulesDir();
    roots.kernelRelease = release;
    roots.modprobe = rootDir / "bin" / "modprobe";
    return roots;
}

fs::path SysfsTree::sys(const std::string& sysPath) const
{
    checkRelative(sysPath);
    return sysDir() / sysPath;
}

std::string SysfsTree::devicePath(const std::string& address) const
{
    std::string domain = address.substr(0, address.find(':'));
    return "devices/pci" + domain + ":00/" + address;
}

void SysfsTree::addDevice(const FakeDevice& d)
{
    const std::string dir = devicePath(d.address);
    fs::create_directories(sys(dir));
    auto attr = [&](const std::string& name, const std::string& value) {
        writeFile(dir + "/" + name, value);
    };

    attr("vendor", hex(d.vendorId, 4));
    attr("device", hex(d.deviceId, 4));
    attr("subsystem_vendor", hex(d.subsystemVendorId, 4));
    attr("subsystem_device", hex(d.subsystemDeviceId, 4));
    attr("class", hex(d.classCode, 6));
    attr("revision", hex(d.revision, 2));
    if (d.configSize > 0)
    {
        attr("config", configSpace(d));
    }
    attr("driver_override",
         (d.driverOverride.empty() ? "(null)" : d.driverOverride) + "\n");
    attr("modalias", modalias(d) + "\n");
    attr("numa_node", std::to_string(d.numaNode) + "\n");
    attr("enable", "0\n");
    attr("remove", "");
    attr("uevent", uevent(d));
    if (!d.resetMethods.empty())
    {
        std::string methods;
        for (const std::string& m : d.resetMethods)
        {
            methods += (methods.empty() ? "" : " ") + m;
        }
        attr("reset_method", methods + "\n");
        attr("reset", "");
    }
    if (d.sriovTotalVfs)
    {
        attr("sriov_totalvfs", std::to_string(*d.sriovTotalVfs) + "\n");
        attr("sriov_numvfs", "0\n");
        attr("sriov_drivers_autoprobe", "1\n");
        attr("sriov_offset", "1\n");
        attr("sriov_stride", "1\n");
    }

    relativeLink(sys(dir + "/subsystem"), sys("bus/pci"));
    relativeLink(sys("bus/pci/devices/" + d.address), sys(dir));
    if (!d.driver.empty())
    {
        bindDriver(d.address, d.driver);
    }
    setIommuGroup(d.address, d.iommuGroup);
}

void SysfsTree::removeDevice(const std::string& address)
{
    unbindDriver(address);
    setIommuGroup(address, -1);
    remove("bus/pci/devices/" + address);
    remove(devicePath(address));
}

void SysfsTree::addVirtfn(const std::string& pf, unsigned index,
                          const std::string& vf)
{
    const std::string pfDir = devicePath(pf);
    relativeLink(sys(pfDir + "/virtfn" + std::to_string(index)),
                 sys(devicePath(vf)));
    relativeLink(sys(devicePath(vf) + "/physfn"), sys(pfDir));

    unsigned numVfs = 0;
    std::istringstream(readAttr(pf, "sriov_numvfs")) >> numVfs;
    if (index + 1 > numVfs)
    {
        writeAttr(pf, "sriov_numvfs", std::to_string(index + 1) + "\n");
    }
}

void SysfsTree::addSlot(const std::string& name, const std::string& address)
{
    writeFile("bus/pci/slots/" + name + "/address", address + "\n");
}

void SysfsTree::setIommuGroup(const std::string& address, int group)
{
    const fs::path link = sys(devicePath(address) + "/iommu_group");
    std::error_code ec;
    fs::path old = fs::read_symlink(link, ec);
    if (!ec)
    {
        remove("kernel/iommu_groups/" + old.filename().string() + "/devices/" +
               address);
        fs::remove(link);
    }
    if (group < 0)
    {
        return;
    }
    const std::string groupDir = "kernel/iommu_groups/" + std::to_string(group);
    fs::create_directories(sys(groupDir + "/devices"));
    writeFile(groupDir + "/type", "DMA\n");
    relativeLink(link, sys(groupDir));
    relativeLink(sys(groupDir + "/devices/" + address),
                 sys(devicePath(address)));
}

void SysfsTree::addDriver(const std::string& driver, std::string module)
{
    if (module.empty())
    {
        module = defaultModuleOf(driver);
    }
    const std::string dir = "bus/pci/drivers/" + driver;
    fs::create_directories(sys(dir));
    for (const char* file : {"bind", "unbind", "new_id", "remove_id"})
    {
        if (!fs::exists(sys(dir + "/" + file)))
        {
            writeFile(dir + "/" + file, "");
        }
    }
    fs::create_directories(sys("module/" + module + "/drivers"));
    relativeLink(sys(dir + "/module"), sys("module/" + module));
    relativeLink(sys("module/" + module + "/drivers/pci:" + driver), sys(dir));
}

void SysfsTree::bindDriver(const std::string& address,
                           const std::string& driver)
{
    unbindDriver(address);
    if (!fs::exists(sys("bus/pci/drivers/" + driver)))
    {
        addDriver(driver);
    }
    const std::string dir = devicePath(address);
    relativeLink(sys(dir + "/driver"), sys("bus/pci/drivers/" + driver));
    relativeLink(sys("bus/pci/drivers/" + driver + "/" + address), sys(dir));
}

void SysfsTree::unbindDriver(const std::string& address)
{
    const fs::path link = sys(devicePath(address) + "/driver");
    std::error_code ec;
    fs::path old = fs::read_symlink(link, ec);
    if (ec)
    {
        return;
    }
    remove("bus/pci/drivers/" + old.filename().string() + "/" + address);
    fs::remove(link);
}

void SysfsTree::setModuleDriver(const std::string& module,
                                const std::string& driver)
{
    checkRelative(module);
    std::ofstream(rootDir / "modprobe" / "driver" / module) << driver;
}

void SysfsTree::failModprobe(const std::string& module,
                             const std::string& message)
{
    checkRelative(module);
    std::ofstream(rootDir / "modprobe" / "fail" / module)
        << message << (message.empty() ? "" : "\n");
}

std::vector<std::string> SysfsTree::modprobeLog() const
{
    std::vector<std::string> lines;
    std::ifstream log(rootDir / "modprobe.log");
    for (std::string line; std::getline(log, line);)
    {
        lines.push_back(line);
    }
    return lines;
}

std::string SysfsTree::readFile(const std::string& sysPath) const
{
    std::ifstream in(sys(sysPath), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void SysfsTree::writeFile(const std::string& sysPath,
                          const std::string& content)
{
    const fs::path path = sys(sysPath);
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out)
    {
        throw std::runtime_error("SysfsTree: cannot write " + path.string());
    }
}

std::string SysfsTree::readAttr(const std::string& address,
                                const std::string& attr) const
{
    return readFile(devicePath(address) + "/" + attr);
}

void SysfsTree::writeAttr(const std::string& address, const std::string& attr,
                          const std::string& content)
{
    writeFile(devicePath(address) + "/" + attr, content);
}

void SysfsTree::symlink(const std::string& sysPath, const std::string& target)
{
    const fs::path link = sys(sysPath);
    fs::create_directories(link.parent_path());
    std::error_code ignored;
    fs::remove(link, ignored);
    fs::create_symlink(target, link);
}

void SysfsTree::remove(const std::string& sysPath)
{
    std::error_code ignored;
    fs::remove_all(sys(sysPath), ignored);
}

void SysfsTree::makeFifo(const std::string& sysPath)
{
    const fs::path path = sys(sysPath);
    std::error_code ignored;
    fs::remove(path, ignored);
    fs::create_directories(path.parent_path());
    if (::mkfifo(path.c_str(), 0600) < 0)
    {
        throwErrno("mkfifo " + path.string());
    }
}

void SysfsTree::releaseFifo(const std::string& sysPath)
{
    if (fifoReaders.contains(sysPath))
    {
        return;
    }
    const fs::path path = sys(sysPath);
    // Non-blocking so that this returns even when no writer is there yet.
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
    {
        throwErrno("open " + path.string());
    }
    fifoReaders.emplace(sysPath, fd);
}

std::string SysfsTree::fifoContents(const std::string& sysPath)
{
    releaseFifo(sysPath);
    int fd = fifoReaders.at(sysPath);
    std::string text;
    char buffer[4096];
    for (;;)
    {
        ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n > 0)
        {
            text.append(buffer, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        return text; // EOF or EAGAIN: nothing more for now
    }
}

void SysfsTree::createDevNode(const std::string& devPath)
{
    checkRelative(devPath);
    const fs::path path = devDir() / devPath;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary);
}

void SysfsTree::setModulesAlias(const std::string& text)
{
    const fs::path dir = modulesDir() / release;
    fs::create_directories(dir);
    std::ofstream(dir / "modules.alias", std::ios::binary) << text;
}

void SysfsTree::writeModprobeScript()
{
    std::string script = modprobeScript;
    const std::string marker = "@ROOT@";
    script.replace(script.find(marker), marker.size(), rootDir.string());
    const fs::path path = rootDir / "bin" / "modprobe";
    std::ofstream(path, std::ios::binary) << script;
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read |
                              fs::perms::group_exec);
}

} // namespace vfiod::test
