#include "plugin/plugin_quarantine.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/text_escape.hpp"
#include "plugin/plugin_state_dir.hpp"

#include <fcntl.h>
#include <syslog.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

namespace vfiod
{

namespace
{

constexpr std::string_view header = "vfiod plugin quarantine";
constexpr const char* fileName = "plugin-quarantine";

std::vector<std::string> splitTabs(const std::string& line)
{
    std::vector<std::string> fields;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos;
         start = tab + 1)
    {
        fields.push_back(line.substr(start, tab - start));
    }
    fields.push_back(line.substr(start));
    return fields;
}

/** "probe of 0000:04:00.0", "load (...)". */
std::string callWords(const PluginCallRecord& call)
{
    if (call.op == "load")
    {
        return "load (dlopen and vfiod_plugin_entry)";
    }
    return call.device.empty() ? call.op : call.op + " of " + call.device;
}

std::string who(const QuarantinedPlugin& plugin)
{
    return plugin.plugin.empty() ? plugin.file
                                 : plugin.plugin + " (" + plugin.file + ")";
}

} // namespace

std::string formatQuarantine(const std::vector<QuarantinedPlugin>& plugins)
{
    // One line a plugin, its fields escaped so that none holds a tab or a
    // newline.
    std::string text(header);
    for (const QuarantinedPlugin& p : plugins)
    {
        text += "\nplugin\t" + text::escaped(p.file) + "\t" +
                text::escaped(p.plugin) + "\t" +
                std::to_string(p.cleanRunsLeft) + "\t" +
                text::escaped(p.reason);
    }
    text += "\nend\n";
    return text;
}

std::vector<QuarantinedPlugin> parseQuarantine(const std::string& text)
{
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != header)
    {
        fail(Errc::InvalidArgument, "not a vfiod plugin quarantine");
    }
    std::vector<QuarantinedPlugin> plugins;
    while (std::getline(in, line))
    {
        if (line == "end")
        {
            return plugins;
        }
        std::vector<std::string> fields = splitTabs(line);
        if (fields.size() != 5 || fields[0] != "plugin")
        {
            fail(Errc::InvalidArgument,
                 "quarantine line " + text::quotedArgument(line) +
                     " is not plugin<TAB>file<TAB>name<TAB>runs<TAB>reason");
        }
        const std::string& runs = fields[3];
        if (runs.size() != 1 || runs[0] < '1' ||
            runs[0] > '0' + static_cast<int>(quarantineCleanRuns))
        {
            fail(Errc::InvalidArgument,
                 "quarantine clean runs " + text::quotedArgument(runs) +
                     " is not 1 to " + std::to_string(quarantineCleanRuns));
        }
        if (fields[1].empty() || fields[1].find('/') != std::string::npos)
        {
            fail(Errc::InvalidArgument,
                 "quarantine file name " + text::quotedArgument(fields[1]) +
                     " is not a name in the plugin directory");
        }
        plugins.push_back({fields[1], fields[2], fields[4],
                           static_cast<unsigned>(runs[0] - '0'), false});
    }
    fail(Errc::InvalidArgument, "quarantine has no end line");
}

std::vector<QuarantinedPlugin>
    quarantineFromMarkers(const std::map<std::string, PluginCallRecord>& left)
{
    std::map<std::string, QuarantinedPlugin> byFile;
    std::map<std::string, std::set<std::string>> calls;
    for (const auto& [name, call] : left)
    {
        if (!call.crashed)
        {
            continue;
        }
        QuarantinedPlugin& entry = byFile[call.file];
        entry.file = call.file;
        if (entry.plugin.empty())
        {
            entry.plugin = call.plugin;
        }
        calls[call.file].insert(callWords(call));
    }
    std::vector<QuarantinedPlugin> plugins;
    for (auto& [file, entry] : byFile)
    {
        std::string words;
        for (const std::string& call : calls[file])
        {
            words += (words.empty() ? "" : ", ") + call;
        }
        entry.reason = "vfiod died during its " + words;
        if (byFile.size() > 1)
        {
            entry.reason += " (" + std::to_string(byFile.size()) +
                            " plugins crashed at once; each is "
                            "quarantined)";
        }
        plugins.push_back(entry);
    }
    return plugins;
}

std::string quarantineStatus(const QuarantinedPlugin& plugin)
{
    if (plugin.lifted)
    {
        return "quarantine lifted by Reload, loaded at the next start: " +
               plugin.reason;
    }
    return "quarantined: " + plugin.reason + "; not loaded until " +
           std::to_string(plugin.cleanRunsLeft) + " more run" +
           (plugin.cleanRunsLeft == 1 ? "" : "s") +
           " of vfiod end cleanly, or a Reload";
}

PluginQuarantine::PluginQuarantine(const std::string& stateDir,
                                   PluginLog logger) :
    dir(withoutTrailingSlashes(stateDir)),
    log(std::move(logger))
{
    calls = PluginCallMarkers::open(dir, log);
    stateFd = openStateDirectory(AT_FDCWD, dir, dir, "the state directory");
    try
    {
        std::optional<std::string> text =
            readRegularFileAt(stateFd.get(), dir, fileName, maxQuarantineBytes);
        if (text)
        {
            list = parseQuarantine(*text);
        }
    }
    catch (const std::exception& e)
    {
        if (log)
        {
            log(LOG_WARNING,
                "plugin quarantine " + dir + "/" + fileName +
                    " is ignored and will be replaced: " + e.what());
        }
    }
    if (!calls->owner())
    {
        return; // another process's live markers are not a crash
    }
    std::map<std::string, std::string> damaged;
    std::map<std::string, PluginCallRecord> left = calls->list(&damaged);
    for (const auto& [name, why] : damaged)
    {
        if (log)
        {
            log(LOG_WARNING, "plugin call marker " + calls->directory() + "/" +
                                 name + " is removed unread: " + why);
        }
    }
    for (const auto& [name, call] : left)
    {
        if (!call.crashed && log)
        {
            log(LOG_WARNING,
                "vfiod's previous run ended during plugin " +
                    (call.plugin.empty() ? call.file : call.plugin) + "'s " +
                    callWords(call) +
                    " with no crash in it (vfiod was killed, or crashed on "
                    "another thread): the plugin is not quarantined");
        }
    }
    std::vector<QuarantinedPlugin> crashed = quarantineFromMarkers(left);
    if (crashed.empty())
    {
        calls->clear();
        return;
    }
    for (QuarantinedPlugin& fresh : crashed)
    {
        std::erase_if(list, [&](const QuarantinedPlugin& old) {
            return old.file == fresh.file;
        });
        if (log)
        {
            log(LOG_WARNING,
                "plugin " + who(fresh) + " quarantined: " + fresh.reason +
                    "; the devices it handled get vfiod's generic operations "
                    "until " +
                    std::to_string(quarantineCleanRuns) +
                    " runs of vfiod end cleanly, or a Reload");
        }
        list.push_back(std::move(fresh));
    }
    // Written before the markers go: a crash in between finds both, and
    // makes the same quarantine again.
    save();
    calls->clear();
}

bool PluginQuarantine::skips(const std::string& file) const
{
    // Names are kept as the marker wrote them: escaped.
    std::string kept = text::escaped(file);
    std::lock_guard lock(mutex);
    return std::any_of(list.begin(), list.end(),
                       [&](const auto& p) { return p.file == kept; });
}

std::vector<QuarantinedPlugin> PluginQuarantine::entries() const
{
    std::lock_guard lock(mutex);
    return list;
}

std::vector<std::string> PluginQuarantine::lift()
{
    std::lock_guard lock(mutex);
    std::vector<std::string> lifted;
    for (QuarantinedPlugin& plugin : list)
    {
        if (!plugin.lifted)
        {
            plugin.lifted = true;
            lifted.push_back(plugin.file);
        }
    }
    if (!lifted.empty() && calls->owner())
    {
        save();
    }
    return lifted;
}

void PluginQuarantine::endRun()
{
    if (!calls->owner())
    {
        return;
    }
    std::lock_guard lock(mutex);
    if (calls->inFlight() == 0)
    {
        bool changed = false;
        for (QuarantinedPlugin& plugin : list)
        {
            if (!plugin.lifted && plugin.cleanRunsLeft > 0)
            {
                --plugin.cleanRunsLeft;
                changed = true;
                if (plugin.cleanRunsLeft == 0 && log)
                {
                    log(LOG_INFO, "plugin " + who(plugin) +
                                      " is loaded again at the next start: " +
                                      std::to_string(quarantineCleanRuns) +
                                      " runs ended cleanly since it was "
                                      "quarantined");
                }
            }
        }
        std::erase_if(list, [](const QuarantinedPlugin& p) {
            return !p.lifted && p.cleanRunsLeft == 0;
        });
        if (changed)
        {
            save();
        }
    }
    else if (log)
    {
        log(LOG_INFO, std::to_string(calls->inFlight()) +
                          " plugin call(s) abandoned on their timeout still "
                          "run: this run does not count as clean");
    }
    calls->clear();
}

void PluginQuarantine::save() const
{
    std::vector<QuarantinedPlugin> kept;
    std::copy_if(list.begin(), list.end(), std::back_inserter(kept),
                 [](const QuarantinedPlugin& p) { return !p.lifted; });
    try
    {
        writeFileAtomicallyAt(stateFd.get(), dir, fileName,
                              formatQuarantine(kept), 0644);
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed,
             std::string("cannot write the plugin quarantine: ") + e.what());
    }
}

} // namespace vfiod
