#include "linux/udev_uevent_source.hpp"

#include "linux/uevent_properties.hpp"

#include <libudev.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace vfiod
{

namespace
{

[[noreturn]] void throwUdev(int rc, const std::string& what)
{
    // libudev returns -errno or sets errno, depending on the call.
    int error = rc < 0 ? -rc : (errno != 0 ? errno : EIO);
    throw std::system_error(error, std::generic_category(), what);
}

std::string orEmpty(const char* text)
{
    return text != nullptr ? text : "";
}

Uevent toUevent(udev_device* device)
{
    Uevent event;
    event.seqnum = udev_device_get_seqnum(device);
    event.action = orEmpty(udev_device_get_action(device));
    event.subsystem = orEmpty(udev_device_get_subsystem(device));
    event.sysname = orEmpty(udev_device_get_sysname(device));
    event.devpath = orEmpty(udev_device_get_devpath(device));

    udev_list_entry* entry = udev_device_get_properties_list_entry(device);
    for (; entry != nullptr; entry = udev_list_entry_get_next(entry))
    {
        addUeventProperty(event, orEmpty(udev_list_entry_get_name(entry)),
                          orEmpty(udev_list_entry_get_value(entry)));
    }
    return event;
}

} // namespace

void UdevUeventSource::UdevDeleter::operator()(udev* context) const noexcept
{
    udev_unref(context);
}

void UdevUeventSource::MonitorDeleter::operator()(
    udev_monitor* monitor) const noexcept
{
    udev_monitor_unref(monitor);
}

UdevUeventSource::UdevUeventSource()
{
    errno = 0;
    context.reset(udev_new());
    if (!context)
    {
        throwUdev(0, "udev_new");
    }
    errno = 0;
    monitor.reset(udev_monitor_new_from_netlink(context.get(), "udev"));
    if (!monitor)
    {
        throwUdev(0, "udev_monitor_new_from_netlink");
    }
    for (const char* subsystem : {"pci", "vfio", "vfio-dev"})
    {
        int rc = udev_monitor_filter_add_match_subsystem_devtype(
            monitor.get(), subsystem, nullptr);
        if (rc < 0)
        {
            throwUdev(rc, std::string("udev monitor filter ") + subsystem);
        }
    }
    int rc = udev_monitor_enable_receiving(monitor.get());
    if (rc < 0)
    {
        throwUdev(rc, "udev_monitor_enable_receiving");
    }
}

UdevUeventSource::~UdevUeventSource() = default;

int UdevUeventSource::fd() const
{
    return udev_monitor_get_fd(monitor.get());
}

std::vector<Uevent> UdevUeventSource::receive()
{
    std::lock_guard guard(lock);
    std::vector<Uevent> events;
    // The monitor socket is non-blocking: NULL means nothing is pending
    // (or a message was dropped, which a retry would not change).
    while (udev_device* device = udev_monitor_receive_device(monitor.get()))
    {
        events.push_back(toUevent(device));
        udev_device_unref(device);
    }
    return events;
}

} // namespace vfiod
