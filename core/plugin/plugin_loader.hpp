#pragma once

#include "base/fd.hpp"
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
                 std::shared_ptr<PluginServices> services, std::string path,
                 UniqueFd file);
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
    /** @brief path()'s last component: how the quarantine knows it. */
    std::string fileName() const
    {
        return file.substr(file.rfind('/') + 1);
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
    /// The checked file it was loaded through ("/proc/self/fd/N"): open
    /// for as long as the library is, so that no other plugin is opened
    /// under the same name meanwhile (see loadPlugin).
    UniqueFd opened;
};

/**
 * @brief Why the directory open as @p dirFd (its path @p path, for the
 * message) may not hold plugins, "" when it may: it must be a directory
 * owned by root or by vfiod's own euid and writable by nobody else, group
 * included. A member of a group that may write it could drop a library in
 * or rename one over a checked name as surely as anyone could in a
 * world-writable directory, and whatever lands there runs inside vfiod.
 */
std::string checkPluginDirectory(int dirFd, const std::string& path);

/**
 * @brief Opens @p name in the directory @p dirFd the way a plugin is
 * checked, as sudo and polkit check their rule files: a regular file (a
 * symbolic link is refused: its target lies beyond the directory the
 * checks vouch for), owned by root or by vfiod's euid, not writable by
 * group or others. O_NONBLOCK so that a FIFO is opened (and refused) at
 * once instead of waiting for a writer; O_NOFOLLOW so that the file
 * checked is the file that is loaded.
 * @return the open file, or the reason it is refused.
 */
std::variant<UniqueFd, std::string> openPluginFile(int dirFd,
                                                   const std::string& name);

/**
 * @brief Why the descriptor a plugin's entry returned is unusable, "" when
 * it is fine: the ABI major, the sizes of the descriptor and of its ops
 * table, the name (1-64 of A-Z a-z 0-9 _ . -), the tables present. Reads
 * only what those checks need; loadPlugin calls it, and
 * fuzz/plugin_descriptor_fuzzer.cpp on descriptors made of fuzz bytes.
 */
std::string checkPluginDescriptor(const vfiod_plugin_descriptor* d);

/**
 * @brief dlopens @p file, a file openPluginFile checked, through
 * "/proc/self/fd/N" (RTLD_NOW | RTLD_LOCAL): the library mapped is the
 * inode checked, whatever is renamed over @p path meanwhile. Then calls
 * its entry with a services table of its own and checks the descriptor.
 * @param path where the file was found, for the messages and Plugins.
 * @return the plugin, or the reason it is refused.
 */
std::variant<std::shared_ptr<LoadedPlugin>, std::string>
    loadPlugin(UniqueFd file, const std::string& path,
               const std::shared_ptr<PluginServicesShared>& shared);

/** @brief Whether the op member is present: HAS_OP(plugin, reset). */
#define VFIOD_HAS_OP(plugin, member)                                           \
    ((plugin).hasOp(offsetof(vfiod_plugin_ops, member),                        \
                    reinterpret_cast<const void*>((plugin).ops().member)))

} // namespace vfiod
