#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

/** @brief polkit's answer (the AuthorizationResult struct). */
struct PolkitAnswer
{
    bool authorized = false;
    bool challenge = false; ///< would be allowed after authenticating
};

/**
 * @brief Asks polkit (org.freedesktop.PolicyKit1.Authority) whether the
 * bus client @p sender may do @p actionId. The subject is the bus name,
 * as polkit recommends for system services: polkit itself resolves it to
 * the process and user, so the answer cannot be spoofed by a reused pid.
 * Never asks for interaction: a daemon has nobody to show a dialog to.
 *
 * Blocks for the round trip: call it from a worker, on the worker's own
 * connection.
 * @throws sdbus::Error when polkit cannot be reached or fails.
 */
PolkitAnswer
    checkAuthorization(sdbus::IConnection& bus, const std::string& sender,
                       std::string_view actionId,
                       const std::map<std::string, std::string>& details);

} // namespace vfiod::daemon
