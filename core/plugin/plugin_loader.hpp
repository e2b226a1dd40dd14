#pragma once

#include "plugin/plugin_services.hpp"

#include <vfiod/plugin.h>

#include <cstddef>
#include <memory>
#include <string>
#include <variant>

namespace vfiod
{

/**
 * @brief A plugin library that passed every ABI check. Closed (dlclose)
 * only when the last holder lets go: an op thread abandoned on timeout
 * holds it, so its code is never unmapped under it.
 */
class LoadedPlugin
{
  public:
    LoadedPlugin(void* handle, const vfiod_plugin_descriptor* descriptor,
                 std::shared_ptr<PluginServices> services, std::string path);
    ~LoadedPlugin();
    LoadedPlugin(const LoadedPlugin&) = delete;
    LoadedPlugin& operator=(const LoadedPlugin&) = delete;

    const vfiod_plugin_descriptor& descriptor() const noexcept
    {
        return *desc;
    }
    const vfiod_plugin_ops& ops() const noexcept
    {
        return *desc->ops;
    }
    const vfiod_host_services* host() const noexcept
    {
        return services->table();
    }
    const std::string& name() const noexcept
    {
        return pluginName;
    }
    const std::string& path() const noexcept
    {
        return file;
    }
    PluginServicesShared& shared() const noexcept
    {
        return services->shared();
    }

    /**
     * @brief Whether the ops table has the member at @p offset and it is
     * set: a table from an older minor version ends before later members.
     */
    bool hasOp(size_t offset, const void* pointer) const noexcept
    {
        return offset < desc->ops->struct_size && pointer != nullptr;
    }

  private:
    void* handle;
    const vfiod_plugin_descriptor* desc;
    std::shared_ptr<PluginServices> services;
    std::string file;
    std::string pluginName;
};

/**
 * @brief dlopens @p path (RTLD_NOW | RTLD_LOCAL), calls its entry with a
 * services table of its own and checks the descriptor.
 * @return the plugin, or the reason it is refused.
 */
std::variant<std::shared_ptr<LoadedPlugin>, std::string>
    loadPlugin(const std::string& path,
               const std::shared_ptr<PluginServicesShared>& shared);

/** @brief Whether the op member is present: HAS_OP(plugin, reset). */
#define VFIOD_HAS_OP(plugin, member)                                           \
    ((plugin).hasOp(offsetof(vfiod_plugin_ops, member),                        \
                    reinterpret_cast<const void*>((plugin).ops().member)))

} // namespace vfiod
