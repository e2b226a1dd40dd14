#pragma once

#include "config/daemon_config.hpp"
#include "config/policy.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace vfiod::daemon
{

/**
 * @brief The configuration and the device policy in force, and where they
 * come from. Thread-safe: workers read [access] while a reload replaces
 * it. Both are replaced together or not at all.
 */
class ConfigStore
{
  public:
    /**
     * @brief Loads the configuration: @p explicitPath (--config) must
     * exist; without it the default file is read when present, and its
     * absence means defaults. Then the policy, from policy_dir or
     * policy.d beside the file.
     * @throws Error(Errc::NotFound / InvalidArgument) as loadDaemonConfig
     *         and loadPolicyDir.
     */
    explicit ConfigStore(std::optional<std::string> explicitPath);

    /** @brief A copy of the configuration in force. */
    DaemonConfig current() const;

    AccessConfig access() const;

    /** @brief The policy in force (never null). */
    std::shared_ptr<const Policy> policy() const;

    /** @brief The file read ("" when none was). */
    std::string path() const;

    /** @brief The policy directory in force. */
    std::string policyDir() const;

    /**
     * @brief Reads the file and the policy again. When either is invalid,
     * both stay as they were and the error is thrown (InvalidArgument).
     * @return the new configuration.
     */
    DaemonConfig reload();

  private:
    DaemonConfig load() const;
    std::string policyDirOf(const DaemonConfig& settings) const;

    std::string file;
    bool required;
    mutable std::mutex mutex; ///< guards config and rules
    DaemonConfig config;
    std::shared_ptr<const Policy> rules;
};

} // namespace vfiod::daemon
