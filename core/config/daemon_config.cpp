#include "config.h"

#include "config/daemon_config.hpp"

#include "base/error.hpp"
#include "base/toml_check.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace vfiod
{

namespace
{

/** Longest timeout accepted: anything above is a unit mistake (s vs ms). */
constexpr int64_t maxTimeoutMs = 3600 * 1000;

std::string where(const toml::source_region& region)
{
    return toml_check::where(region, "<config>");
}

[[noreturn]] void refuse(const toml::source_region& region,
                         const std::string& message)
{
    fail(Errc::InvalidArgument, where(region) + ": " + message);
}

using toml_check::typeName;

std::string quotedKey(std::string_view section, const toml::key& key)
{
    std::string prefix = section.empty() ? "" : std::string(section) + ".";
    return "\"" + prefix + std::string(key.str()) + "\"";
}

std::string requireString(std::string_view section, const toml::key& key,
                          const toml::node& node)
{
    const auto* value = node.as_string();
    if (value == nullptr)
    {
        refuse(node.source(), quotedKey(section, key) +
                                  " must be a string, not " +
                                  std::string(typeName(node)));
    }
    return value->get();
}

std::string requireAbsolutePath(std::string_view section, const toml::key& key,
                                const toml::node& node)
{
    std::string path = requireString(section, key, node);
    if (path.empty() || path.front() != '/')
    {
        refuse(node.source(), quotedKey(section, key) +
                                  " must be an absolute path, not \"" + path +
                                  "\"");
    }
    return path;
}

std::vector<std::string> requireNames(std::string_view section,
                                      const toml::key& key,
                                      const toml::node& node)
{
    const auto* array = node.as_array();
    if (array == nullptr)
    {
        refuse(node.source(), quotedKey(section, key) +
                                  " must be an array of names, not " +
                                  std::string(typeName(node)));
    }
    std::vector<std::string> names;
    for (const toml::node& element : *array)
    {
        const auto* name = element.as_string();
        if (name == nullptr)
        {
            refuse(element.source(), quotedKey(section, key) +
                                         " may only hold strings, not " +
                                         std::string(typeName(element)));
        }
        const std::string& text = name->get();
        if (text.empty() || text.find_first_of(" \t\n:/") != std::string::npos)
        {
            refuse(element.source(), "\"" + text + "\" in " +
                                         quotedKey(section, key) +
                                         " is not a user or group name");
        }
        names.push_back(text);
    }
    return names;
}

std::chrono::milliseconds requireTimeout(std::string_view section,
                                         const toml::key& key,
                                         const toml::node& node)
{
    const auto* value = node.as_integer();
    if (value == nullptr)
    {
        refuse(node.source(), quotedKey(section, key) +
                                  " must be an integer number of "
                                  "milliseconds, not " +
                                  std::string(typeName(node)));
    }
    int64_t ms = value->get();
    if (ms <= 0 || ms > maxTimeoutMs)
    {
        refuse(node.source(), quotedKey(section, key) + " = " +
                                  std::to_string(ms) +
                                  " is out of range (1 to " +
                                  std::to_string(maxTimeoutMs) + " ms)");
    }
    return std::chrono::milliseconds(ms);
}

LogLevel requireLogLevel(const toml::key& key, const toml::node& node)
{
    std::string text = requireString("daemon", key, node);
    for (LogLevel level :
         {LogLevel::Error, LogLevel::Warning, LogLevel::Info, LogLevel::Debug})
    {
        if (text == logLevelName(level))
        {
            return level;
        }
    }
    refuse(node.source(), "\"daemon.log_level\" must be one of error, "
                          "warning, info, debug, not \"" +
                              text + "\"");
}

using KeyHandler = std::function<void(const toml::key&, const toml::node&)>;

/** Hands every key of a section to its handler; unknown keys are errors. */
void readSection(std::string_view section, const toml::node& node,
                 const std::map<std::string, KeyHandler, std::less<>>& keys)
{
    const auto* table = node.as_table();
    if (table == nullptr)
    {
        refuse(node.source(), "\"" + std::string(section) +
                                  "\" must be a table ([" +
                                  std::string(section) + "]), not " +
                                  std::string(typeName(node)));
    }
    for (auto&& [key, value] : *table)
    {
        auto handler = keys.find(key.str());
        if (handler == keys.end())
        {
            std::string known;
            for (const auto& [name, unused] : keys)
            {
                known += (known.empty() ? "" : ", ") + name;
            }
            refuse(key.source(), "unknown key " + quotedKey(section, key) +
                                     " (known: " + known + ")");
        }
        handler->second(key, value);
    }
}

void readDaemon(const toml::node& node, DaemonConfig& config)
{
    readSection("daemon", node,
                {
                    {"log_level",
                     [&](const toml::key& k, const toml::node& v) {
                         config.logLevel = requireLogLevel(k, v);
                     }},
                    {"state_dir",
                     [&](const toml::key& k, const toml::node& v) {
                         config.stateDir = requireAbsolutePath("daemon", k, v);
                     }},
                    {"plugin_dir",
                     [&](const toml::key& k, const toml::node& v) {
                         config.pluginDir = requireAbsolutePath("daemon", k, v);
                     }},
                    {"policy_dir",
                     [&](const toml::key& k, const toml::node& v) {
                         config.policyDir = requireAbsolutePath("daemon", k, v);
                     }},
                });
}

void readRoots(const toml::node& node, DaemonConfig& config)
{
    LinuxRoots& roots = config.roots;
    auto path = [](std::string& target) {
        return [&target](const toml::key& k, const toml::node& v) {
            target = requireAbsolutePath("roots", k, v);
        };
    };
    readSection("roots", node,
                {
                    {"sysfs", path(roots.sysfs)},
                    {"dev", path(roots.dev)},
                    {"modules", path(roots.modules)},
                    {"modprobe", path(roots.modprobe)},
                    {"udev_rules", path(config.udevRulesDir)},
                });
}

void readAccess(const toml::node& node, AccessConfig& access)
{
    auto names = [](std::vector<std::string>& target) {
        return [&target](const toml::key& k, const toml::node& v) {
            target = requireNames("access", k, v);
        };
    };
    readSection("access", node,
                {
                    {"users", names(access.users)},
                    {"groups", names(access.groups)},
                });
}

void readTimeouts(const toml::node& node, DaemonConfig& config)
{
    auto timeout = [](std::chrono::milliseconds& target) {
        return [&target](const toml::key& k, const toml::node& v) {
            target = requireTimeout("timeouts", k, v);
        };
    };
    readSection("timeouts", node,
                {
                    {"unbind_ms", timeout(config.timeouts.unbind)},
                    {"probe_ms", timeout(config.timeouts.probe)},
                    {"dev_node_ms", timeout(config.timeouts.devNode)},
                    {"reset_ms", timeout(config.timeouts.reset)},
                    {"group_wait_ms", timeout(config.groupWait)},
                    {"plugin_op_ms", timeout(config.pluginOp)},
                    {"lease_grace_ms", timeout(config.leaseGrace)},
                    {"idle_exit_ms", timeout(config.idleExit)},
                });
}

} // namespace

std::string_view logLevelName(LogLevel level) noexcept
{
    switch (level)
    {
        case LogLevel::Error:
            return "error";
        case LogLevel::Warning:
            return "warning";
        case LogLevel::Info:
            return "info";
        case LogLevel::Debug:
            return "debug";
    }
    return "info";
}

std::string DaemonConfig::defaultStateDir()
{
    return VFIOD_LOCALSTATEDIR;
}

std::string defaultConfigPath()
{
    return std::string(VFIOD_SYSCONFDIR) + "/vfiod.toml";
}

DaemonConfig parseDaemonConfig(std::string_view text,
                               const std::string& sourceName)
{
    toml::table root;
    try
    {
        root = toml::parse(text, sourceName);
    }
    catch (const toml::parse_error& e)
    {
        refuse(e.source(), std::string(e.description()));
    }

    DaemonConfig config;
    readSection(
        "", root,
        {
            {"daemon", [&](const toml::key&,
                           const toml::node& v) { readDaemon(v, config); }},
            {"roots", [&](const toml::key&,
                          const toml::node& v) { readRoots(v, config); }},
            {"access",
             [&](const toml::key&, const toml::node& v) {
                 readAccess(v, config.access);
             }},
            {"timeouts", [&](const toml::key&,
                             const toml::node& v) { readTimeouts(v, config); }},
        });
    return config;
}

DaemonConfig loadDaemonConfig(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        int err = errno;
        if (err == ENOENT)
        {
            fail(Errc::NotFound, path + ": no such configuration file");
        }
        fail(Errc::InvalidArgument,
             path + ": cannot read: " + std::strerror(err));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
    {
        fail(Errc::InvalidArgument, path + ": read error");
    }
    return parseDaemonConfig(text.str(), path);
}

} // namespace vfiod
