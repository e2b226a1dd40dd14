#include "config_store.hpp"

#include "error.hpp"

namespace vfiod::daemon
{

ConfigStore::ConfigStore(std::optional<std::string> explicitPath) :
    file(explicitPath.value_or(defaultConfigPath())),
    required(explicitPath.has_value()), config(load())
{}

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

std::string ConfigStore::path() const
{
    return file;
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
    std::lock_guard lock(mutex);
    config = fresh;
    return fresh;
}

} // namespace vfiod::daemon
