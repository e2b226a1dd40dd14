#pragma once

#include "base/pci_address.hpp"
#include "kernel/kernel_host.hpp"

#include <vfiod/plugin.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace vfiod
{

/** @brief Where plugin and plugin-host messages go (syslog levels). */
using PluginLog = std::function<void(int level, const std::string& message)>;

/**
 * @brief What every plugin's services share: the kernel boundary, the
 * helper programs, and the VFIO devices opened for plugins (kept open
 * across ops because closing a VFIO device resets its migration state).
 */
struct PluginServicesShared
{
    KernelHost& kernel;
    /// Helper name ("devlink") -> program path.
    std::map<std::string, std::string> helpers;
    PluginLog log;

    std::mutex mutex;
    std::map<PciAddress, VfioDeviceFds> openDevices;

    PluginServicesShared(KernelHost& kernel,
                         std::map<std::string, std::string> helpers,
                         PluginLog log) :
        kernel(kernel),
        helpers(std::move(helpers)), log(std::move(log))
    {}

    /** @brief Closes the VFIO device opened for @p address, if any. */
    void releaseDevice(const PciAddress& address);
};

/**
 * @brief The vfiod_host_services table of one plugin: its context names
 * the plugin, so log lines say which plugin wrote them.
 *
 * Owned by shared_ptr: an op thread abandoned on timeout keeps it alive.
 */
class PluginServices
{
  public:
    PluginServices(std::shared_ptr<PluginServicesShared> shared,
                   std::string name);
    PluginServices(const PluginServices&) = delete;
    PluginServices& operator=(const PluginServices&) = delete;

    const vfiod_host_services* table() const noexcept
    {
        return &services;
    }

    /** @brief Names the plugin in log lines once its descriptor is read. */
    void setName(std::string pluginName);

    PluginServicesShared& shared() const noexcept
    {
        return *common;
    }

    const std::string& name() const noexcept
    {
        return pluginName;
    }

  private:
    std::shared_ptr<PluginServicesShared> common;
    std::string pluginName;
    vfiod_host_services services{};
};

/**
 * @brief Whether a plugin-supplied path may be used below the sysfs root:
 * relative, no empty, "." or ".." component, no control character.
 */
bool isSafeRelativePath(std::string_view path) noexcept;

} // namespace vfiod
