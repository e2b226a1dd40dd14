#pragma once

#include "plugin/plugin_host.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace vfiod::plugintest
{

using vfiod::test::requiredEnv;

/** @brief Collects the plugin host's log lines. */
class LogCapture
{
  public:
    PluginLog sink()
    {
        return [this](int, const std::string& line) {
            std::lock_guard lock(mutex);
            captured.push_back(line);
        };
    }

    std::vector<std::string> lines() const
    {
        std::lock_guard lock(mutex);
        return captured;
    }

    /** @brief The lines that contain @p text. */
    std::vector<std::string> matching(const std::string& text) const
    {
        std::vector<std::string> out;
        for (const std::string& line : lines())
        {
            if (line.find(text) != std::string::npos)
            {
                out.push_back(line);
            }
        }
        return out;
    }

  private:
    mutable std::mutex mutex;
    std::vector<std::string> captured;
};

} // namespace vfiod::plugintest
