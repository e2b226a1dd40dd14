#include "polkit.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <cstdint>

namespace vfiod::daemon
{

namespace
{

constexpr auto polkitService = "org.freedesktop.PolicyKit1";
constexpr auto authorityPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr auto authorityInterface = "org.freedesktop.PolicyKit1.Authority";

/// CheckAuthorizationFlags: None. AllowUserInteraction (1) stays off.
constexpr uint32_t noInteraction = 0;

/// Without interaction polkit answers at once; a hung polkit must not hold
/// a worker for the default 25 s.
constexpr auto callTimeout = std::chrono::seconds(10);

using Subject =
    sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
using AuthorizationResult =
    sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

} // namespace

PolkitAnswer
    checkAuthorization(sdbus::IConnection& bus, const std::string& sender,
                       std::string_view actionId,
                       const std::map<std::string, std::string>& details)
{
    auto authority = sdbus::createProxy(bus, polkitService, authorityPath);
    Subject subject{"system-bus-name", std::map<std::string, sdbus::Variant>{
                                           {"name", sdbus::Variant(sender)}}};
    AuthorizationResult result;
    authority->callMethod("CheckAuthorization")
        .onInterface(authorityInterface)
        .withTimeout(callTimeout)
        .withArguments(subject, std::string(actionId), details, noInteraction,
                       std::string())
        .storeResultsTo(result);
    return PolkitAnswer{std::get<0>(result), std::get<1>(result)};
}

} // namespace vfiod::daemon
