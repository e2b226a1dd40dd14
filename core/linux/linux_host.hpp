#pragma once

#include "kernel/kernel_host.hpp"
#include "kernel/linux_roots.hpp"

#include <string>

namespace vfiod
{

/**
 * @brief The real Linux host: plain file operations under LinuxRoots,
 * modprobe as a child process, inotify for device nodes, and a libudev
 * monitor for uevents.
 */
class LinuxHost final : public KernelHost
{
  public:
    explicit LinuxHost(LinuxRoots roots);

    std::string_view backend() const noexcept override
    {
        return "linux";
    }
    std::optional<std::string> read(const std::string& path) override;
    void write(const std::string& path, std::string_view value) override;
    std::optional<std::string> readLinkName(const std::string& path) override;
    std::vector<std::string> list(const std::string& path) override;
    bool exists(const std::string& path) override;
    void modprobe(const std::string& module) override;
    std::string modulesAlias() override;
    bool devNodeExists(const std::string& path) override;
    bool waitDevNode(const std::string& path,
                     std::chrono::milliseconds timeout) override;
    std::unique_ptr<UeventSource> openUevents() override;
    UniqueFd openAttribute(const std::string& path, int flags) override;
    /** @brief In linux_vfio.cpp. */
    VfioDeviceFds openVfioDevice(const PciAddress& address) override;
    /** @brief In linux_vfio_holders.cpp. */
    std::vector<VfioHolder> vfioHolders() override;

    const LinuxRoots& roots() const noexcept
    {
        return linuxRoots;
    }

  private:
    std::string sysPath(const std::string& path) const;
    std::string devPath(const std::string& path) const;

    LinuxRoots linuxRoots;
};

} // namespace vfiod
