#include "config.h"

#include "config/daemon_config.hpp"

#include "base/toml_reader.hpp"

namespace vfiod
{

namespace
{

using toml_reader::Table;

/** Longest timeout accepted: anything above is a unit mistake (s vs ms). */
constexpr int64_t maxTimeoutMs = 3600 * 1000;

std::string requireAbsolutePath(const std::string& key, const toml::node& node)
{
    std::string path = toml_reader::string(key, node);
    if (path.empty() || path.front() != '/')
    {
        toml_reader::refuse(node, toml_reader::quoted(key) +
                                      " must be an absolute path, not " +
                                      toml_reader::quoted(path));
    }
    return path;
}

LogLevel requireLogLevel(const std::string& key, const toml::node& node)
{
    static constexpr std::string_view names[] = {"error", "warning", "info",
                                                 "debug"};
    std::string text = toml_reader::oneOf(key, node, names);
    for (LogLevel level :
         {LogLevel::Error, LogLevel::Warning, LogLevel::Info, LogLevel::Debug})
    {
        if (text == logLevelName(level))
        {
            return level;
        }
    }
    return LogLevel::Info;
}

void readDaemon(const Table& table, DaemonConfig& config)
{
    auto path = [](std::string& target) {
        return [&target](const std::string& k, const toml::node& v) {
            target = requireAbsolutePath(k, v);
        };
    };
    table.read({
        {"log_level",
         [&](const std::string& k, const toml::node& v) {
             config.logLevel = requireLogLevel(k, v);
         }},
        {"state_dir", path(config.stateDir)},
        {"plugin_dir", path(config.pluginDir)},
        {"policy_dir", path(config.policyDir)},
    });
}

void readRoots(const Table& table, DaemonConfig& config)
{
    LinuxRoots& roots = config.roots;
    auto path = [](std::string& target) {
        return [&target](const std::string& k, const toml::node& v) {
            target = requireAbsolutePath(k, v);
        };
    };
    table.read({
        {"sysfs", path(roots.sysfs)},
        {"dev", path(roots.dev)},
        {"proc", path(roots.proc)},
        {"modules", path(roots.modules)},
        {"modprobe", path(roots.modprobe)},
        {"udev_rules", path(config.udevRulesDir)},
    });
}

void readAccess(const Table& table, AccessConfig& access)
{
    auto names = [](std::vector<std::string>& target) {
        return [&target](const std::string& k, const toml::node& v) {
            target = toml_reader::names(k, v, toml_reader::userName);
        };
    };
    table.read({
        {"users", names(access.users)},
        {"groups", names(access.groups)},
    });
}

void readTimeouts(const Table& table, DaemonConfig& config)
{
    auto timeout = [](std::chrono::milliseconds& target) {
        return [&target](const std::string& k, const toml::node& v) {
            target = toml_reader::milliseconds(k, v, 1, maxTimeoutMs);
        };
    };
    table.read({
        {"unbind_ms", timeout(config.timeouts.unbind)},
        {"probe_ms", timeout(config.timeouts.probe)},
        {"dev_node_ms", timeout(config.timeouts.devNode)},
        {"reset_ms", timeout(config.timeouts.reset)},
        {"group_wait_ms", timeout(config.groupWait)},
        {"plugin_op_ms", timeout(config.pluginOp)},
        {"lease_grace_ms", timeout(config.leaseGrace)},
        {"idle_exit_ms", timeout(config.idleExit)},
        {"migration_idle_ms", timeout(config.migrationIdle)},
    });
}

void readLimits(const Table& table, CallLimitsConfig& limits)
{
    auto count = [](unsigned& target, int64_t max) {
        return [&target, max](const std::string& k, const toml::node& v) {
            target = static_cast<unsigned>(
                toml_reader::integer(k, v, toml_reader::IntRange{1, max}));
        };
    };
    table.read({
        {"max_calls_per_caller", count(limits.maxCallsPerCaller, 65536)},
        {"max_queued_per_device", count(limits.maxQueuedPerDevice, 65536)},
        {"max_workers", count(limits.maxWorkers, 4096)},
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
    toml::table root = toml_reader::parse(text, sourceName);
    DaemonConfig config;
    auto section = [](auto read) {
        return [read](const std::string& k, const toml::node& v) {
            read(Table(k, v));
        };
    };
    Table("", root).read({
        {"daemon", section([&](const Table& t) { readDaemon(t, config); })},
        {"roots", section([&](const Table& t) { readRoots(t, config); })},
        {"access",
         section([&](const Table& t) { readAccess(t, config.access); })},
        {"timeouts", section([&](const Table& t) { readTimeouts(t, config); })},
        {"limits",
         section([&](const Table& t) { readLimits(t, config.limits); })},
    });
    return config;
}

DaemonConfig loadDaemonConfig(const std::string& path)
{
    return parseDaemonConfig(toml_reader::readFile(path, "configuration file"),
                             path);
}

} // namespace vfiod
