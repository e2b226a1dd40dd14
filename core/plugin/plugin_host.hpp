#pragma once

#include "base/fd.hpp"
#include "kernel/migration_fsm.hpp"
#include "pci/pci_device.hpp"
#include "plugin/plugin_call_markers.hpp"
#include "plugin/plugin_services.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vfiod
{

class KernelHost;
class LoadedPlugin;
class PluginQuarantine;
class StuckDevices;

/** @brief One loaded plugin, as the Plugins property lists it. */
struct PluginInfo
{
    std::string name;
    std::string path;
    uint32_t abiMajor = 0;
    uint32_t abiMinor = 0;
    int32_t priority = 0;
};

/** @brief A plugin left unloaded because it crashed vfiod before, as the
 *  QuarantinedPlugins property lists it. */
struct QuarantineInfo
{
    std::string name;   ///< the plugin's name, or its file's when unknown
    std::string path;   ///< the library
    std::string status; ///< "quarantined: vfiod died during its probe ..."

    bool operator==(const QuarantineInfo&) const = default;
};

struct PluginHostConfig
{
    /// Every *.so in it is loaded, in lexical order; "" loads nothing.
    std::string directory;
    /// Helper programs plugins may run by name ("devlink" -> path).
    std::map<std::string, std::string> helpers;
    /// How long one plugin op may take before it is abandoned.
    std::chrono::milliseconds opTimeout{30000};
    /// Refusals (one line each), plugin messages, ops that time out.
    PluginLog log;
    /// The state directory: each plugin call is marked in
    /// STATE/plugin-calls while it runs, and a plugin a marker left by a
    /// dead run names is quarantined in STATE/plugin-quarantine
    /// (plugin_quarantine.hpp); "" keeps neither.
    std::string stateDir;
};

/** @brief VFIO_MIG_GET_PRECOPY_INFO. */
struct PrecopyInfo
{
    uint64_t initialBytes = 0;
    uint64_t dirtyBytes = 0;
};

/**
 * @brief A device in the hands of the plugin chosen for it: C++ calls of
 * the plugin's ops, each on a thread of its own with the host's timeout.
 *
 * Errors: every call throws Error: the op's -errno mapped by
 * failPluginOp (the plugin's reason in the message), TimedOut when the op
 * hangs (the device is then stuck and further ops get Busy until it
 * returns), NotSupported for an op the plugin does not implement (except
 * the prepare/cleanup ops, which then do nothing).
 */
class PluginDevice
{
  public:
    struct View;

    /** @param markers marks each op while it runs; none when null. */
    PluginDevice(std::shared_ptr<LoadedPlugin> plugin, const PciDevice& device,
                 std::shared_ptr<StuckDevices> stuck,
                 std::chrono::milliseconds timeout,
                 std::shared_ptr<PluginCallMarkers> markers = nullptr);
    ~PluginDevice();
    PluginDevice(PluginDevice&&) noexcept;
    PluginDevice& operator=(PluginDevice&&) noexcept;

    const std::string& pluginName() const noexcept;
    const PciDevice& device() const noexcept;

    /** @brief The plugin's probe: whether it claims the device. */
    bool probe();

    /** @brief The driver the plugin wants, "" when it leaves it to vfiod. */
    std::string chooseDriver();
    void prepareBind(const std::string& driver);
    /** @param result 0 or the bind's -errno. */
    void cleanupBind(const std::string& driver, int result);
    void prepareAssign();
    void cleanupAssign(int result);

    bool canReset() const noexcept;
    /** @param method a reset_method name, "" for the device's default. */
    void reset(const std::string& method);

    /** @brief Has get_flags and set_state. */
    bool canMigrate() const noexcept;
    bool canGetState() const noexcept;
    migration::Flags migrationFlags();
    migration::State migrationState();
    /**
     * @brief ONE arc to @p next. Callers walk with migration::walk; this
     * refuses nothing itself but a state outside the enum.
     * @return the data fd on the arcs that carry data, else empty.
     */
    UniqueFd setMigrationArc(migration::State next);
    uint64_t migrationDataSize();
    PrecopyInfo precopyInfo(int dataFd);

    /** @brief Lets go of the VFIO device opened for the plugin, if any. */
    void release();

  private:
    template <typename Op>
    int call(const char* opName, Op op, bool allowPositive = false);

    std::shared_ptr<LoadedPlugin> plugin;
    std::shared_ptr<View> view;
    std::shared_ptr<StuckDevices> stuck;
    std::chrono::milliseconds timeout;
    std::shared_ptr<PluginCallMarkers> markers;
};

/**
 * @brief Loads plugins from a directory and picks the one for a device.
 *
 * A library is refused with one log line (and the others still load) when
 * it or its directory fails the checks of checkPluginDirectory and
 * openPluginFile (a regular file, owned by root or vfiod's euid, writable
 * by nobody else, in a directory held to the same rule), it cannot be
 * loaded, has no vfiod_plugin_entry, its entry returns NULL,
 * its ABI major differs, its descriptor or ops table is smaller than ABI
 * 1.0's, its name is missing or malformed, or another plugin already has
 * its name.
 *
 * With a state directory, every call into a plugin (its loading
 * included) is marked there while it runs, and a library that a previous
 * run died in is quarantined: not even opened (its crash may be in its
 * constructor), listed by quarantined(), until a Reload (liftQuarantine)
 * or quarantineCleanRuns clean runs (endCleanRun). The devices it would
 * have handled get no plugin, that is vfiod's generic operations.
 *
 * @throws Error from the constructor as PluginQuarantine's (a state
 *         directory that is a symlink, markers that cannot be written).
 */
class PluginHost
{
  public:
    /** @param stuck the registry of calls blocked past their caller, shared
     *         with the kernel calls (a registry of its own when null). */
    PluginHost(KernelHost& kernel, PluginHostConfig config,
               std::shared_ptr<StuckDevices> stuck = nullptr);
    ~PluginHost();
    PluginHost(const PluginHost&) = delete;
    PluginHost& operator=(const PluginHost&) = delete;

    /** @brief The loaded plugins, in load (lexical file) order. */
    std::vector<PluginInfo> plugins() const;

    /** @brief The libraries left unloaded by the quarantine. */
    std::vector<QuarantineInfo> quarantined() const;

    /**
     * @brief A Reload: the quarantine is lifted, and the libraries are
     * loaded at the next start (not in this run: the devices already have
     * their plugins). Logs each; never throws (a failed write is logged).
     * @return whether anything was lifted.
     */
    bool liftQuarantine();

    /** @brief A normal shutdown: see PluginQuarantine::endRun. Logs a
     *  failure, never throws. */
    void endCleanRun();

    /**
     * @brief The plugin for @p device: the highest-priority plugin whose
     * match table matches and whose probe claims it (ties: load order).
     * @param forced a plugin name (from policy): that one, or an error.
     * @throws Error: NotFound (no plugin matches, or @p forced is not
     *         loaded), NotSupported (@p forced does not match or declines).
     */
    PluginDevice deviceFor(const PciDevice& device,
                           const std::string& forced = {});

    /** @brief deviceFor's choice by name, "" when no plugin matches. */
    std::string chooseName(const PciDevice& device,
                           const std::string& forced = {});

    /** @brief Whether a plugin op on the device timed out and still runs. */
    bool isStuck(const PciAddress& address) const;
    bool waitUntilNotStuck(const PciAddress& address,
                           std::chrono::milliseconds timeout) const;

  private:
    void loadDirectory();
    void loadFile(int dirFd, const std::string& name);
    void refuse(const std::string& path, const std::string& why) const;
    bool claims(const std::shared_ptr<LoadedPlugin>& plugin,
                const PciDevice& device);

    PluginHostConfig config;
    std::shared_ptr<PluginServicesShared> shared;
    std::shared_ptr<StuckDevices> stuck;
    std::unique_ptr<PluginQuarantine> quarantine;
    std::shared_ptr<PluginCallMarkers> markers;
    std::vector<std::shared_ptr<LoadedPlugin>> loaded;
};

/** @brief Whether a match entry selects the device (pci_match_one_device). */
bool pluginMatches(const vfiod_plugin_match& match,
                   const PciDevice& device) noexcept;

} // namespace vfiod
