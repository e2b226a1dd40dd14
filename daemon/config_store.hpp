#pragma once

#include "daemon_config.hpp"

#include <mutex>
#include <optional>
#include <string>

namespace vfiod::daemon
{

/**
 * @brief The configuration in force, and where it comes from. Thread-safe:
 * workers read [access] while a reload replaces it.
 */
class ConfigStore
{
  public:
    /**
     * @brief Loads the configuration: @p explicitPath (--config) must
     * exist; without it the default file is read when present, and its
     * absence means defaults.
     * @throws Error(Errc::NotFound / InvalidArgument) as loadDaemonConfig.
     */
    explicit ConfigStore(std::optional<std::string> explicitPath);

    /** @brief A copy of the configuration in force. */
    DaemonConfig current() const;

    AccessConfig access() const;

    /** @brief The file read ("" when none was). */
    std::string path() const;

    /**
     * @brief Reads the file again. When it is invalid, the configuration
     * in force stays and the error is thrown (InvalidArgument).
     * @return the new configuration.
     */
    DaemonConfig reload();

  private:
    DaemonConfig load() const;

    std::string file;
    bool required;
    mutable std::mutex mutex; ///< guards config
    DaemonConfig config;
};

} // namespace vfiod::daemon
