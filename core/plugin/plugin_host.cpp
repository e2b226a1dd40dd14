#include "plugin/plugin_host.hpp"

#include "base/error.hpp"
#include "plugin/plugin_call.hpp"
#include "plugin/plugin_loader.hpp"
#include "plugin/plugin_quarantine.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <syslog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vfiod
{

bool pluginMatches(const vfiod_plugin_match& match,
                   const PciDevice& device) noexcept
{
    auto same = [](uint32_t want, uint32_t have) {
        return want == VFIOD_PLUGIN_ANY_ID || want == have;
    };
    return same(match.vendor, device.vendorId) &&
           same(match.device, device.deviceId) &&
           same(match.subsystem_vendor, device.subsystemVendorId) &&
           same(match.subsystem_device, device.subsystemDeviceId) &&
           ((match.class_code ^ device.classCode) & match.class_mask) == 0;
}

namespace
{

bool matchesTable(const LoadedPlugin& plugin, const PciDevice& device)
{
    const vfiod_plugin_descriptor& d = plugin.descriptor();
    for (size_t i = 0; i < d.match_count; ++i)
    {
        if (pluginMatches(d.matches[i], device))
        {
            return true;
        }
    }
    return false;
}

/** @brief The *.so names of the directory open as @p dirFd, sorted:
 * read from the directory that was checked, not from its path again. */
std::vector<std::string> sharedObjects(int dirFd)
{
    std::vector<std::string> names;
    int copy = ::fcntl(dirFd, F_DUPFD_CLOEXEC, 0);
    DIR* dir = copy >= 0 ? ::fdopendir(copy) : nullptr;
    if (dir == nullptr)
    {
        if (copy >= 0)
        {
            ::close(copy);
        }
        return names;
    }
    while (const dirent* entry = ::readdir(dir))
    {
        std::string_view name = entry->d_name;
        if (name.size() > 3 && name.ends_with(".so"))
        {
            names.emplace_back(name);
        }
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

PluginHost::PluginHost(KernelHost& kernel, PluginHostConfig configuration,
                       std::shared_ptr<StuckDevices> stuckDevices) :
    config(std::move(configuration)),
    shared(std::make_shared<PluginServicesShared>(kernel, config.helpers,
                                                  config.log)),
    stuck(stuckDevices ? std::move(stuckDevices)
                       : std::make_shared<StuckDevices>())
{
    if (!config.stateDir.empty())
    {
        // Before any library is opened: one a dead run left a marker of
        // is not opened at all.
        quarantine =
            std::make_unique<PluginQuarantine>(config.stateDir, config.log);
        markers = quarantine->markers();
    }
    loadDirectory();
}

PluginHost::~PluginHost() = default;

void PluginHost::refuse(const std::string& path, const std::string& why) const
{
    if (config.log)
    {
        config.log(LOG_WARNING,
                   "plugin " + path + " refused: " + why + "; skipping it");
    }
}

void PluginHost::loadDirectory()
{
    if (config.directory.empty())
    {
        return;
    }
    UniqueFd dir(
        ::open(config.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir)
    {
        // No directory is no plugins, as before; anything else is said.
        int error = errno;
        if (error != ENOENT && config.log)
        {
            config.log(LOG_WARNING,
                       "plugin directory " + config.directory +
                           " cannot be opened: " + std::strerror(error) +
                           "; no plugin is loaded");
        }
        return;
    }
    // The directory is checked once, through the fd its entries are read
    // and opened from, so a rename of the path changes nothing. Each
    // plugin in an untrusted one is refused by name: the log then lists
    // exactly what did not load.
    std::string untrusted = checkPluginDirectory(dir.get(), config.directory);
    for (const std::string& name : sharedObjects(dir.get()))
    {
        if (!untrusted.empty())
        {
            refuse(config.directory + "/" + name, untrusted);
            continue;
        }
        loadFile(dir.get(), name);
    }
}

void PluginHost::loadFile(int dirFd, const std::string& name)
{
    std::string path = config.directory + "/" + name;
    if (quarantine && quarantine->skips(name))
    {
        if (config.log)
        {
            config.log(LOG_WARNING,
                       "plugin " + path +
                           " is not loaded: it is in "
                           "quarantine (vfioctl plugins says why)");
        }
        return;
    }
    auto opened = openPluginFile(dirFd, name);
    if (const std::string* why = std::get_if<std::string>(&opened))
    {
        refuse(path, *why);
        return;
    }
    // Its constructors and entry run in vfiod too: a crash there is the
    // library's as surely as one in an op.
    PluginCallMarkers::Mark mark;
    if (markers)
    {
        mark = markers->mark({name, "", "load", ""});
    }
    auto result =
        loadPlugin(std::get<UniqueFd>(std::move(opened)), path, shared);
    mark = PluginCallMarkers::Mark();
    if (const std::string* why = std::get_if<std::string>(&result))
    {
        refuse(path, *why);
        return;
    }
    auto plugin = std::get<std::shared_ptr<LoadedPlugin>>(std::move(result));
    auto same = [&](const std::shared_ptr<LoadedPlugin>& other) {
        return other->name() == plugin->name();
    };
    if (auto other = std::find_if(loaded.begin(), loaded.end(), same);
        other != loaded.end())
    {
        refuse(path, "another plugin named \"" + plugin->name() +
                         "\" is already loaded from " + (*other)->path());
        return;
    }
    if (config.log)
    {
        config.log(LOG_INFO,
                   "plugin " + plugin->name() + " loaded from " + path);
    }
    loaded.push_back(std::move(plugin));
}

std::vector<PluginInfo> PluginHost::plugins() const
{
    std::vector<PluginInfo> list;
    for (const auto& plugin : loaded)
    {
        const vfiod_plugin_descriptor& d = plugin->descriptor();
        list.push_back({plugin->name(), plugin->path(), d.abi_major,
                        d.abi_minor, d.priority});
    }
    return list;
}

std::vector<QuarantineInfo> PluginHost::quarantined() const
{
    std::vector<QuarantineInfo> list;
    if (!quarantine)
    {
        return list;
    }
    for (const QuarantinedPlugin& plugin : quarantine->entries())
    {
        list.push_back({plugin.plugin.empty() ? plugin.file : plugin.plugin,
                        config.directory + "/" + plugin.file,
                        quarantineStatus(plugin)});
    }
    return list;
}

bool PluginHost::liftQuarantine()
{
    if (!quarantine)
    {
        return false;
    }
    try
    {
        std::vector<std::string> lifted = quarantine->lift();
        for (const std::string& file : lifted)
        {
            if (config.log)
            {
                config.log(LOG_INFO, "plugin " + config.directory + "/" + file +
                                         ": quarantine lifted by Reload; "
                                         "it is loaded at the next start");
            }
        }
        return !lifted.empty();
    }
    catch (const Error& e)
    {
        if (config.log)
        {
            config.log(LOG_ERR, e.what());
        }
        return true; // lifted in memory: the listing changed
    }
}

void PluginHost::endCleanRun()
{
    if (!quarantine)
    {
        return;
    }
    try
    {
        quarantine->endRun();
    }
    catch (const Error& e)
    {
        if (config.log)
        {
            config.log(LOG_ERR, e.what());
        }
    }
}

bool PluginHost::claims(const std::shared_ptr<LoadedPlugin>& plugin,
                        const PciDevice& device)
{
    if (!matchesTable(*plugin, device))
    {
        return false;
    }
    if (!VFIOD_HAS_OP(*plugin, probe))
    {
        return true;
    }
    PluginDevice candidate(plugin, device, stuck, config.opTimeout, markers);
    try
    {
        return candidate.probe();
    }
    catch (const Error& e)
    {
        if (config.log)
        {
            config.log(LOG_WARNING, std::string(e.what()) + ", ignoring");
        }
        return false;
    }
}

PluginDevice PluginHost::deviceFor(const PciDevice& device,
                                   const std::string& forced)
{
    if (!forced.empty())
    {
        auto it =
            std::find_if(loaded.begin(), loaded.end(),
                         [&](const auto& p) { return p->name() == forced; });
        if (it == loaded.end())
        {
            fail(Errc::NotFound,
                 "no plugin named \"" + forced + "\" is loaded");
        }
        if (!claims(*it, device))
        {
            fail(Errc::NotSupported, "plugin " + forced + " does not handle " +
                                         device.address.str());
        }
        return PluginDevice(*it, device, stuck, config.opTimeout, markers);
    }
    std::vector<std::shared_ptr<LoadedPlugin>> order = loaded;
    std::stable_sort(
        order.begin(), order.end(), [](const auto& a, const auto& b) {
            return a->descriptor().priority > b->descriptor().priority;
        });
    for (const auto& plugin : order)
    {
        if (claims(plugin, device))
        {
            return PluginDevice(plugin, device, stuck, config.opTimeout,
                                markers);
        }
    }
    fail(Errc::NotFound, "no plugin handles " + device.address.str());
}

std::string PluginHost::chooseName(const PciDevice& device,
                                   const std::string& forced)
{
    try
    {
        return deviceFor(device, forced).pluginName();
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::NotFound && forced.empty())
        {
            return {};
        }
        throw;
    }
}

bool PluginHost::isStuck(const PciAddress& address) const
{
    return stuck->contains(address, StuckDevices::Source::Plugin);
}

bool PluginHost::waitUntilNotStuck(const PciAddress& address,
                                   std::chrono::milliseconds timeout) const
{
    return stuck->waitUntilClear(address, StuckDevices::Source::Plugin,
                                 timeout);
}

} // namespace vfiod
