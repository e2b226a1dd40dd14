// LinuxHost's VFIO half: opening a device through the legacy group
// interface, the way QEMU does (container, group, IOMMU, device fd).
#include "base/errno_map.hpp"
#include "kernel/sysfs_layout.hpp"
#include "linux/linux_host.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace vfiod
{

namespace
{

[[noreturn]] void failErrno(int error, const PciAddress& address,
                            const std::string& what)
{
    std::string message = "opening the VFIO device of " + address.str() + ": " +
                          what + ": " + std::strerror(error);
    if (error == EBUSY)
    {
        message += " (the group is open elsewhere)";
    }
    fail(errcOfErrno(error, ErrnoFrom::Kernel), message);
}

} // namespace

UniqueFd LinuxHost::openAttribute(const std::string& path, int flags)
{
    UniqueFd fd(::open(sysPath(path).c_str(), flags | O_CLOEXEC));
    if (!fd)
    {
        throw std::system_error(errno, std::generic_category(), "open " + path);
    }
    return fd;
}

VfioDeviceFds LinuxHost::openVfioDevice(const PciAddress& address)
{
    std::optional<std::string> group =
        readLinkName(sysfs::deviceAttr(address, "iommu_group"));
    if (!group)
    {
        fail(Errc::NotFound, address.str() + " has no IOMMU group");
    }
    VfioDeviceFds fds;
    fds.container.reset(
        ::open(devPath("vfio/vfio").c_str(), O_RDWR | O_CLOEXEC));
    if (!fds.container)
    {
        failErrno(errno, address, "open /dev/vfio/vfio");
    }
    if (::ioctl(fds.container.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION)
    {
        fail(Errc::NotSupported, "unknown VFIO API version");
    }
    fds.group.reset(
        ::open(devPath("vfio/" + *group).c_str(), O_RDWR | O_CLOEXEC));
    if (!fds.group)
    {
        failErrno(errno, address, "open /dev/vfio/" + *group);
    }
    vfio_group_status status{};
    status.argsz = sizeof status;
    if (::ioctl(fds.group.get(), VFIO_GROUP_GET_STATUS, &status) != 0)
    {
        failErrno(errno, address, "VFIO_GROUP_GET_STATUS");
    }
    if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0)
    {
        fail(Errc::NotViable, "IOMMU group " + *group + " of " + address.str() +
                                  " is not viable");
    }
    int container = fds.container.get();
    if (::ioctl(fds.group.get(), VFIO_GROUP_SET_CONTAINER, &container) != 0)
    {
        failErrno(errno, address, "VFIO_GROUP_SET_CONTAINER");
    }
    if (::ioctl(fds.container.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0)
    {
        failErrno(errno, address, "VFIO_SET_IOMMU");
    }
    std::string name = address.str();
    fds.device.reset(
        ::ioctl(fds.group.get(), VFIO_GROUP_GET_DEVICE_FD, name.c_str()));
    if (!fds.device)
    {
        failErrno(errno, address, "VFIO_GROUP_GET_DEVICE_FD");
    }
    return fds;
}

} // namespace vfiod
