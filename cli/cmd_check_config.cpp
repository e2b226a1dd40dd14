#include "config.h"

#include "base/error.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "config/daemon_config.hpp"
#include "config/policy.hpp"
#include "json_writer.hpp"

#include <filesystem>
#include <iostream>

namespace vfioctl
{

namespace
{

namespace fs = std::filesystem;

struct CheckResult
{
    size_t rules = 0;
    size_t files = 0;
};

/** @brief Loads what vfiod would load from @p dir, throwing its errors. */
CheckResult check(const fs::path& dir)
{
    std::string policyDir = (dir / "policy.d").string();
    try
    {
        vfiod::DaemonConfig config =
            vfiod::loadDaemonConfig((dir / "vfiod.toml").string());
        if (!config.policyDir.empty())
        {
            policyDir = config.policyDir;
        }
    }
    catch (const vfiod::Error& error)
    {
        // vfiod runs on defaults without a vfiod.toml, so that is fine.
        if (error.code() != vfiod::Errc::NotFound)
        {
            throw;
        }
    }
    vfiod::Policy policy = vfiod::loadPolicyDir(policyDir);
    return {policy.rules.size(), policy.files.size()};
}

std::string plural(size_t count, const char* noun)
{
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void printOk(const GlobalOptions& options, const std::string& dir,
             const CheckResult& result)
{
    if (!options.json)
    {
        std::cout << dir << ": " << plural(result.rules, "rule") << " in "
                  << plural(result.files, "file") << ": ok\n";
        return;
    }
    JsonWriter json(std::cout);
    json.beginObject();
    json.key("dir");
    json.value(dir);
    json.key("ok");
    json.value(true);
    json.key("rules");
    json.value(static_cast<uint64_t>(result.rules));
    json.key("files");
    json.value(static_cast<uint64_t>(result.files));
    json.endObject();
    std::cout << '\n';
}

void printInvalid(const GlobalOptions& options, const std::string& dir,
                  const std::string& message)
{
    // The bare FILE:LINE:COLUMN: message, as compilers print it, so that
    // editors can jump to the spot.
    std::cerr << message << std::endl;
    if (!options.json)
    {
        return;
    }
    JsonWriter json(std::cout);
    json.beginObject();
    json.key("dir");
    json.value(dir);
    json.key("ok");
    json.value(false);
    json.key("error");
    json.value(message);
    json.endObject();
    std::cout << '\n';
}

} // namespace

ExitCode runCheckConfig(const GlobalOptions& options,
                        const std::optional<std::string>& dir)
{
    std::string path = dir.value_or(VFIOD_SYSCONFDIR);
    std::error_code ec;
    if (!fs::is_directory(path, ec))
    {
        throw CliError(ExitCode::notFound, path + ": no such directory");
    }
    try
    {
        printOk(options, path, check(path));
        return ExitCode::ok;
    }
    catch (const vfiod::Error& error)
    {
        if (error.code() != vfiod::Errc::InvalidArgument)
        {
            throw CliError(ExitCode::failed, error.what());
        }
        printInvalid(options, path, error.what());
        return ExitCode::usage;
    }
}

} // namespace vfioctl
