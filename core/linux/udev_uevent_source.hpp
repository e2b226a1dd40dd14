#pragma once

#include "kernel/kernel_host.hpp"

#include <memory>
#include <mutex>

struct udev;
struct udev_monitor;

namespace vfiod
{

/**
 * @brief Uevents for the subsystems vfiod cares about (pci, vfio,
 * vfio-dev), received from a libudev monitor.
 *
 * It listens to the "udev" netlink group, i.e. to events after udevd has
 * processed them (rules applied, device nodes created), not to the raw
 * kernel ones.
 */
class UdevUeventSource final : public UeventSource
{
  public:
    /** @throws std::system_error when the monitor cannot be set up. */
    UdevUeventSource();
    ~UdevUeventSource() override;

    UdevUeventSource(const UdevUeventSource&) = delete;
    UdevUeventSource& operator=(const UdevUeventSource&) = delete;

    int fd() const override;
    std::vector<Uevent> receive() override;

  private:
    struct UdevDeleter
    {
        void operator()(udev* context) const noexcept;
    };
    struct MonitorDeleter
    {
        void operator()(udev_monitor* monitor) const noexcept;
    };

    std::unique_ptr<udev, UdevDeleter> context;
    std::unique_ptr<udev_monitor, MonitorDeleter> monitor;
    /// libudev objects are not thread safe.
    std::mutex lock;
};

} // namespace vfiod
