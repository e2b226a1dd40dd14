// plugins, migration-state, save, load, migrate.

#include "bus_client.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>

namespace vfioctl
{

namespace
{

std::string joined(const std::vector<std::string>& items,
                   const std::string& separator)
{
    std::string text;
    for (const std::string& item : items)
    {
        text += (text.empty() ? "" : separator) + item;
    }
    return text;
}

std::vector<std::string> stringsOf(const PropertyMap& properties,
                                   const std::string& name)
{
    auto found = properties.find(name);
    if (found == properties.end() ||
        !found->second.containsValueOfType<std::vector<std::string>>())
    {
        return {};
    }
    return found->second.get<std::vector<std::string>>();
}

void writeStrings(JsonWriter& json, const std::vector<std::string>& items)
{
    json.beginArray();
    for (const std::string& item : items)
    {
        json.value(item);
    }
    json.endArray();
}

/** @brief "12.3 MiB": a byte count for people. */
std::string humanBytes(uint64_t bytes)
{
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units))
    {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value,
                  units[unit]);
    return text;
}

/**
 * Progress on stderr: on a terminal one line redrawn in place (the phase,
 * a bar that fills as the phases go by, bytes and rate); otherwise a plain
 * line per phase, and the total at the end. The bus gives no total size
 * (a device only estimates its stop-copy size), so the bar shows phases.
 */
class ProgressView
{
  public:
    explicit ProgressView(std::string what) :
        what(std::move(what)), terminal(::isatty(STDERR_FILENO) == 1),
        started(std::chrono::steady_clock::now())
    {}

    void operator()(const std::string& phase, uint64_t bytes)
    {
        std::lock_guard lock(mutex);
        last = bytes;
        if (terminal)
        {
            draw(phase, bytes);
        }
        else if (phase != shownPhase)
        {
            std::cerr << what << ": " << phase << "\n";
        }
        shownPhase = phase;
    }

    void finish(bool ok)
    {
        std::lock_guard lock(mutex);
        if (terminal && !shownPhase.empty())
        {
            std::cerr << "\n";
        }
        if (ok && !shownPhase.empty())
        {
            std::cerr << what << ": " << humanBytes(last) << " moved\n";
        }
    }

  private:
    void draw(const std::string& phase, uint64_t bytes)
    {
        static const std::vector<std::string> phases{"pre-copy", "stop-copy",
                                                     "resume"};
        size_t index = 0;
        while (index < phases.size() && phases[index] != phase)
        {
            ++index;
        }
        constexpr size_t width = 24;
        size_t filled = phase == "resume"     ? width / 2
                        : phase == "pre-copy" ? width / 4
                                              : width * 3 / 4;
        double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - started)
                             .count();
        std::string rate = seconds > 0.1
                               ? humanBytes(static_cast<uint64_t>(
                                     static_cast<double>(bytes) / seconds)) +
                                     "/s"
                               : "";
        std::cerr << "\r" << what << " [" << std::string(filled, '#')
                  << std::string(width - filled, '.') << "] " << phase << " "
                  << humanBytes(bytes) << " " << rate << "\033[K" << std::flush;
    }

    std::string what;
    bool terminal;
    std::chrono::steady_clock::time_point started;
    std::mutex mutex; ///< signals arrive on the watch's thread
    std::string shownPhase;
    uint64_t last = 0;
};

/** @brief Runs a migration call with progress and Ctrl-C = cancel. */
template <typename Call>
void withProgress(BusClient& client, const sdbus::ObjectPath& path,
                  const std::string& what, Call&& call)
{
    ProgressView view(what);
    auto watch = client.watchMigration(
        path, [&view](const std::string& phase, uint64_t bytes) {
            view(phase, bytes);
        });
    try
    {
        call();
    }
    catch (...)
    {
        watch.reset();
        view.finish(false);
        throw;
    }
    watch.reset();
    view.finish(true);
}

void reportState(const GlobalOptions& options, BusClient& client,
                 const sdbus::ObjectPath& path, const std::string& done,
                 bool dataOnStdout)
{
    PropertyMap properties = client.deviceProperties(path);
    std::string state = stringProperty(properties, "MigrationState");
    std::string canonical = stringProperty(properties, "Address");
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("Address");
        json.value(canonical);
        json.key("MigrationState");
        json.value(state);
        json.endObject();
        std::cout << '\n';
    }
    else
    {
        (dataOnStdout ? std::cerr : std::cout)
            << canonical << ": " << done << ", now in " << state << "\n";
    }
}

/** @brief FILE or "-" (@p standard) as an fd; closed by the caller. */
int openStream(const std::string& file, int flags, int standard)
{
    if (file == "-")
    {
        return standard;
    }
    int fd = ::open(file.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0)
    {
        throw CliError(errno == ENOENT ? ExitCode::notFound : ExitCode::failed,
                       "cannot open " + file + ": " + std::strerror(errno));
    }
    return fd;
}

} // namespace

ExitCode runPlugins(const GlobalOptions& options)
{
    BusClient client(options.busAddress);
    std::vector<PluginEntry> plugins = client.plugins();
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginArray();
        for (const PluginEntry& plugin : plugins)
        {
            json.beginObject();
            json.key("Name");
            json.value(plugin.name);
            json.key("Path");
            json.value(plugin.path);
            if (plugin.quarantine.empty())
            {
                json.key("AbiMajor");
                json.value(static_cast<uint64_t>(plugin.abiMajor));
                json.key("AbiMinor");
                json.value(static_cast<uint64_t>(plugin.abiMinor));
            }
            json.key("Status");
            json.value(plugin.quarantine.empty() ? std::string("loaded")
                                                 : plugin.quarantine);
            json.endObject();
        }
        json.endArray();
        std::cout << '\n';
        return ExitCode::ok;
    }
    size_t width = 4;
    for (const PluginEntry& plugin : plugins)
    {
        width = std::max(width, plugin.name.size());
    }
    auto row = [&](const std::string& name, const std::string& abi,
                   const std::string& path) {
        std::cout << name << std::string(width + 2 - name.size(), ' ') << abi
                  << std::string(abi.size() < 6 ? 6 - abi.size() : 1, ' ')
                  << path << "\n";
    };
    row("NAME", "ABI", "PATH");
    for (const PluginEntry& plugin : plugins)
    {
        if (!plugin.quarantine.empty())
        {
            // Never opened: no ABI to show; the why on a line of its own.
            row(plugin.name, "-", plugin.path);
            std::cout << "  " << plugin.quarantine << "\n";
            continue;
        }
        row(plugin.name,
            std::to_string(plugin.abiMajor) + "." +
                std::to_string(plugin.abiMinor),
            plugin.path);
    }
    return ExitCode::ok;
}

ExitCode runMigrationState(const GlobalOptions& options,
                           const std::string& address,
                           const std::optional<std::string>& state)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    std::vector<std::string> walked;
    if (state)
    {
        walked = client.setMigrationState(path, *state);
    }
    PropertyMap properties = client.deviceProperties(path);
    std::vector<std::string> flags = stringsOf(properties, "MigrationFlags");
    std::string now = stringProperty(properties, "MigrationState");
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("Address");
        json.value(address);
        json.key("Plugin");
        json.value(stringProperty(properties, "Plugin"));
        json.key("MigrationFlags");
        writeStrings(json, flags);
        json.key("MigrationState");
        json.value(now);
        if (state)
        {
            json.key("Path");
            writeStrings(json, walked);
        }
        json.endObject();
        std::cout << '\n';
        return ExitCode::ok;
    }
    if (state)
    {
        std::cout << (walked.empty() ? "already in " + now
                                     : joined(walked, " -> "))
                  << "\n";
        return ExitCode::ok;
    }
    std::cout << "plugin: " << stringProperty(properties, "Plugin") << "\n"
              << "flags:  "
              << (flags.empty() ? "(not migratable, or not known)"
                                : joined(flags, " "))
              << "\n"
              << "state:  " << (now.empty() ? "-" : now) << "\n";
    return ExitCode::ok;
}

ExitCode runSave(const GlobalOptions& options, const std::string& address,
                 const std::string& file)
{
    if (file == "-" && options.json)
    {
        throw CliError(ExitCode::usage,
                       "save: --json and the state both on stdout: give a "
                       "FILE");
    }
    if (file == "-" && ::isatty(STDOUT_FILENO) == 1)
    {
        throw CliError(ExitCode::usage,
                       "save: stdout is a terminal: redirect it or give a "
                       "FILE");
    }
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    int fd = openStream(file, O_WRONLY | O_CREAT | O_TRUNC, STDOUT_FILENO);
    try
    {
        withProgress(client, path, "save " + address,
                     [&] { client.saveState(path, fd); });
    }
    catch (...)
    {
        if (fd != STDOUT_FILENO)
        {
            ::close(fd);
        }
        throw;
    }
    if (fd != STDOUT_FILENO && ::close(fd) != 0)
    {
        throw CliError(ExitCode::failed,
                       "writing " + file + ": " + std::strerror(errno));
    }
    reportState(options, client, path, "saved", file == "-");
    return ExitCode::ok;
}

ExitCode runLoad(const GlobalOptions& options, const std::string& address,
                 const std::string& file)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    int fd = openStream(file, O_RDONLY, STDIN_FILENO);
    try
    {
        withProgress(client, path, "load " + address,
                     [&] { client.loadState(path, fd); });
    }
    catch (...)
    {
        if (fd != STDIN_FILENO)
        {
            ::close(fd);
        }
        throw;
    }
    if (fd != STDIN_FILENO)
    {
        ::close(fd);
    }
    reportState(options, client, path, "loaded", false);
    return ExitCode::ok;
}

ExitCode runMigrate(const GlobalOptions& options, const std::string& source,
                    const std::string& target)
{
    BusClient client(options.busAddress);
    auto from = client.getDevice(source);
    auto to = client.getDevice(target);
    withProgress(client, from, "migrate " + source + " -> " + target,
                 [&] { client.migrate(from, to); });
    PropertyMap sourceNow = client.deviceProperties(from);
    PropertyMap targetNow = client.deviceProperties(to);
    std::string sourceAddress = stringProperty(sourceNow, "Address");
    std::string targetAddress = stringProperty(targetNow, "Address");
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("Source");
        json.value(sourceAddress);
        json.key("SourceState");
        json.value(stringProperty(sourceNow, "MigrationState"));
        json.key("Target");
        json.value(targetAddress);
        json.key("TargetState");
        json.value(stringProperty(targetNow, "MigrationState"));
        json.endObject();
        std::cout << '\n';
    }
    else
    {
        std::cout << sourceAddress << " ("
                  << stringProperty(sourceNow, "MigrationState") << ") -> "
                  << targetAddress << " ("
                  << stringProperty(targetNow, "MigrationState") << ")\n";
    }
    return ExitCode::ok;
}

} // namespace vfioctl
