#pragma once

#include "proxies.hpp"
#include "signal_recorder.hpp"
#include "test_env.hpp"

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace vfiod::test
{

/**
 * The tests' configuration: vfiod's own timeouts (10 s and more), which a
 * test on a slow machine does not run into; a test of a timeout sets its
 * own (slowUnbindConfig).
 */
inline constexpr const char* defaultConfig = "";

/** An unbind timeout below the 3 s unbind delay of 06:00.0. */
inline constexpr const char* slowUnbindConfig = "[timeouts]\nunbind_ms = 500\n";

/**
 * @brief One private bus with one vfiod on the test host per test: tests
 * change device state, and a fresh daemon keeps them independent.
 */
class VfiodTest : public ::testing::Test
{
  protected:
    void SetUp() override;
    void TearDown() override;

    /** @brief Starts vfiod on tests/dbus/test-host.toml. */
    void startVfiod(const std::string& config = defaultConfig);

    static std::string hostFile();
    static std::string pathOf(const std::string& address);

    /** @brief A proxy for a device, found through GetDevice. */
    std::unique_ptr<DeviceProxy> device(const std::string& address);

    /** @brief Records signals from now on. */
    std::unique_ptr<SignalRecorder> recordSignals();

    /** @brief Runs @p call; the D-Bus error name it failed with, or "". */
    static std::string errorOf(const std::function<void()>& call);

    /** @brief Like errorOf, also returning the message. */
    static std::pair<std::string, std::string>
        failureOf(const std::function<void()>& call);

    /** @brief Skips the test unless it runs as root (setpriv needs it). */
    static bool canSwitchUser();

    std::unique_ptr<VfiodBus> bus;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<ManagerProxy> manager;
    bool expectCleanExit = true;
};

} // namespace vfiod::test
