#pragma once

#include "base/fd.hpp"
#include "plugin/plugin_call_markers.hpp"
#include "plugin/plugin_services.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vfiod
{

/// How many runs of vfiod must end cleanly before a quarantined plugin is
/// loaded again (a Reload lifts it sooner). Three: one clean run may be a
/// run in which the crashing device was never probed; a plugin that
/// crashes again after three costs one more restart and three more runs.
inline constexpr unsigned quarantineCleanRuns = 3;

/** @brief A plugin the previous runs saw crash vfiod. */
struct QuarantinedPlugin
{
    std::string file;   ///< the library's file name in the plugin directory
    std::string plugin; ///< its name, "" when it died while being loaded
    std::string reason; ///< "vfiod died during its probe of 0000:04:00.0"
    unsigned cleanRunsLeft = quarantineCleanRuns;
    /// Lifted by a Reload in this run: gone from the file, loaded at the
    /// next start (never kept on disk).
    bool lifted = false;

    bool operator==(const QuarantinedPlugin&) const = default;
};

/** @brief The quarantine file's text, and back.
 *  @throws Error(Errc::InvalidArgument) for text that is not one. */
std::string formatQuarantine(const std::vector<QuarantinedPlugin>& plugins);
std::vector<QuarantinedPlugin> parseQuarantine(const std::string& text);

/**
 * @brief What the markers a dead run left say: one entry per library
 * whose call crashed (PluginCallRecord::crashed), naming the call; the
 * other markers (calls that were merely running) convict nobody.
 */
std::vector<QuarantinedPlugin>
    quarantineFromMarkers(const std::map<std::string, PluginCallRecord>& left);

/** @brief As the bus shows it: "quarantined: ...; ..." */
std::string quarantineStatus(const QuarantinedPlugin& plugin);

/**
 * @brief The plugins vfiod does not load because a previous run died in
 * their code, kept in STATE/plugin-quarantine (replaced atomically).
 *
 * At construction, the call markers of crashed calls a dead run left
 * behind (PluginCallMarkers) become quarantines, which are written, then
 * the markers are removed, and each is logged with the plugin, the op and
 * the device. Markers of calls that were only running when the process
 * died (a SIGKILL) are logged and removed. A quarantine is lifted by a Reload
 * (the file forgets it; the library is loaded at the next start) or once
 * quarantineCleanRuns runs have ended cleanly: by a normal shutdown with no
 * plugin call in flight (endRun). A run that dies for any reason is not clean.
 *
 * A quarantine file that cannot be read (damaged, a symlink, too large) is
 * logged and read as empty, and replaced at the next write: the worst it
 * costs is one more crash of the plugin it named.
 *
 * Thread-safe.
 */
class PluginQuarantine
{
  public:
    /** @throws Error as PluginCallMarkers::open; Error(Errc::Failed) when
     *          the markers left cannot be read or removed, or the
     *          quarantine they make cannot be written. */
    PluginQuarantine(const std::string& stateDir, PluginLog log);

    const std::shared_ptr<PluginCallMarkers>& markers() const noexcept
    {
        return calls;
    }

    /** @brief Whether the library @p file (a name in the plugin
     *  directory) stays unloaded in this run. */
    bool skips(const std::string& file) const;

    std::vector<QuarantinedPlugin> entries() const;

    /** @brief A Reload: every quarantine is lifted (from the next start).
     *  @return the file names lifted now. */
    std::vector<std::string> lift();

    /**
     * @brief A normal shutdown: counts a clean run (lifting quarantines
     * whose count reaches 0) when no plugin call is in flight, and removes
     * this process's markers either way: an op abandoned on its timeout and
     * still running did not crash vfiod.
     */
    void endRun();

  private:
    void save() const; ///< under mutex

    std::string dir;
    UniqueFd stateFd;
    PluginLog log;
    std::shared_ptr<PluginCallMarkers> calls;
    mutable std::mutex mutex; ///< guards list
    std::vector<QuarantinedPlugin> list;
};

/** @brief The quarantine file is a few lines; anything larger is not one. */
inline constexpr size_t maxQuarantineBytes = 64 * 1024;

} // namespace vfiod
