#include "config_store.hpp"

#include "base/error.hpp"

namespace vfiod::daemon
{

ConfigStore::ConfigStore(std::optional<std::string> explicitPath) :
    file(explicitPath.value_or(defaultConfigPath())),
    required(explicitPath.has_value()), config(load()),
    rules(std::make_shared<const Policy>(loadPolicyDir(policyDirOf(config))))
{}

std::string ConfigStore::policyDirOf(const DaemonConfig& settings) const
{
    if (!settings.policyDir.empty())
    {
        return settings.policyDir;
    }
    auto slash = file.rfind('/');
    std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
    return (dir.empty() ? "" : dir) + "/policy.d";
}

DaemonConfig ConfigStore::load() const
{
    try
    {
        return loadDaemonConfig(file);
    }
    catch (const Error& e)
    {
        if (e.code() == Errc::NotFound && !required)
        {
            return DaemonConfig();
        }
        throw;
    }
}

DaemonConfig ConfigStore::current() const
{
    std::lock_guard lock(mutex);
    return config;
}

AccessConfig ConfigStore::access() const
{
    std::lock_guard lock(mutex);
    return config.access;
}

std::shared_ptr<const Policy> ConfigStore::policy() const
{
    std::lock_guard lock(mutex);
    return rules;
}

std::string ConfigStore::path() const
{
    return file;
}

std::string ConfigStore::policyDir() const
{
    std::lock_guard lock(mutex);
    return policyDirOf(config);
}

DaemonConfig ConfigStore::reload()
{
    DaemonConfig fresh;
    try
    {
        fresh = load();
    }
    catch (const Error& e)
    {
        // An explicitly given file that vanished is refused as at start-up,
        // under the one error name Reload documents.
        if (e.code() == Errc::NotFound)
        {
            fail(Errc::InvalidArgument, e.what());
        }
        throw;
    }
    auto freshRules =
        std::make_shared<const Policy>(loadPolicyDir(policyDirOf(fresh)));
    std::lock_guard lock(mutex);
    config = fresh;
    rules = std::move(freshRules);
    return fresh;
}

} // namespace vfiod::daemon
