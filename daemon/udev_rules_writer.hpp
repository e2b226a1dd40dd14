#pragma once

#include "config/policy.hpp"
#include "service/device_manager.hpp"

#include <mutex>
#include <string>

namespace vfiod::daemon
{

/**
 * @brief Keeps the generated udev rules in step with the policy and the
 * SR-IOV PFs present, and remembers the text for Manager.UdevRules.
 * Thread-safe: a reload on the loop and a PF added on a worker may both
 * regenerate.
 */
class UdevRulesWriter
{
  public:
    /** @param dir where 70-vfiod.rules goes; "" keeps the text only. */
    UdevRulesWriter(DeviceManager& manager, std::string dir);

    /**
     * @brief Generates the rules for @p policy and the devices present and
     * writes them when they changed. A write failure is logged, not
     * thrown: vfiod still binds devices itself after they appear.
     */
    void update(const Policy& policy);

    /** @brief The rules generated last. */
    std::string text() const;

    const std::string& directory() const noexcept
    {
        return dir;
    }

  private:
    DeviceManager& manager;
    const std::string dir;
    mutable std::mutex mutex; ///< guards current, and orders the writes
    std::string current;
};

} // namespace vfiod::daemon
