#pragma once

#include "config/daemon_config.hpp"

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

/** @brief The state-changing verbs, one polkit action each. */
enum class Action
{
    Bind,    ///< Bind, Unbind
    Assign,  ///< Assign, Release
    Reset,   ///< Reset
    Migrate, ///< migration (reserved)
    Manage,  ///< Reload
};

/** @brief "org.vfiod1.bind", ... */
std::string_view actionId(Action action) noexcept;

/** @brief Who made a call: its unique bus name and user. */
struct Caller
{
    std::string sender; ///< ":1.42"
    uid_t uid = static_cast<uid_t>(-1);

    /** @brief The Owner recorded for an assignment: ":1.42 uid=1000". */
    std::string owner() const;
};

/**
 * @brief The uid a bus client runs as, from the bus driver
 * (GetConnectionUnixUser). Unique names are never reused, so asking after
 * the call arrived cannot be confused by another client.
 * @throws Error(Errc::AccessDenied) when the bus cannot tell (the client
 *         is gone, for instance).
 */
uid_t lookupCallerUid(sdbus::IConnection& bus, const std::string& sender);

/** @brief The uid in an Owner string (":1.42 uid=1000"), if any. */
std::optional<uid_t> ownerUid(std::string_view owner);

/**
 * @brief Decides who may change device state: root, the users and groups
 * of [access] (supplementary groups included), and otherwise whatever
 * polkit answers. Thread-safe; the access lists are read on every call,
 * so a reload applies at once.
 */
class Authorizer
{
  public:
    using AccessSource = std::function<AccessConfig()>;

    explicit Authorizer(AccessSource access);

    /** @brief Root, or named in [access] by user or group. */
    bool isPrivileged(uid_t uid) const;

    /**
     * @brief Returns when @p caller may do @p action; polkit sees
     * @p details (address, ids, group). Blocks for the polkit round trip:
     * worker threads only, on the worker's own connection.
     * @param what the request, for messages: "Bind 0000:03:00.0".
     * @param assigners users and groups the device's policy rule lets
     *        assign and release it (Action::Assign only).
     * @throws Error(Errc::AccessDenied) with the reason, also when polkit
     *         cannot be reached: without an answer nothing is allowed.
     */
    void authorize(sdbus::IConnection& bus, const Caller& caller, Action action,
                   const std::map<std::string, std::string>& details,
                   const std::string& what,
                   const AccessConfig& assigners = {}) const;

  private:
    /** @brief Whether @p uid is named in @p lists, by user or group. */
    static bool isListed(uid_t uid, const AccessConfig& lists);

    AccessSource access;
};

} // namespace vfiod::daemon
