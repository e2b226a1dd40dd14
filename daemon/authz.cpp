#include "authz.hpp"

#include "base/error.hpp"
#include "logging.hpp"
#include "polkit.hpp"

#include <grp.h>
#include <pwd.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace vfiod::daemon
{

namespace
{

struct Account
{
    std::string name;
    gid_t gid = 0;
};

std::optional<Account> accountOf(uid_t uid)
{
    long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
    passwd entry{};
    passwd* found = nullptr;
    while (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) ==
           ERANGE)
    {
        buffer.resize(buffer.size() * 2);
    }
    if (found == nullptr)
    {
        return std::nullopt;
    }
    return Account{entry.pw_name, entry.pw_gid};
}

/** The primary and supplementary groups of an account, by name. */
std::vector<std::string> groupNamesOf(const Account& account)
{
    std::vector<gid_t> gids(32);
    int count = static_cast<int>(gids.size());
    while (::getgrouplist(account.name.c_str(), account.gid, gids.data(),
                          &count) < 0)
    {
        gids.resize(static_cast<size_t>(count) + 32);
        count = static_cast<int>(gids.size());
    }
    gids.resize(static_cast<size_t>(count));

    std::vector<std::string> names;
    long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
    for (gid_t gid : gids)
    {
        group entry{};
        group* found = nullptr;
        int r = 0;
        while ((r = ::getgrgid_r(gid, &entry, buffer.data(), buffer.size(),
                                 &found)) == ERANGE)
        {
            buffer.resize(buffer.size() * 2);
        }
        if (found != nullptr)
        {
            names.emplace_back(entry.gr_name);
        }
    }
    return names;
}

bool contains(const std::vector<std::string>& list, const std::string& item)
{
    return std::find(list.begin(), list.end(), item) != list.end();
}

} // namespace

std::string_view actionId(Action action) noexcept
{
    switch (action)
    {
        case Action::Bind:
            return "org.vfiod1.bind";
        case Action::Assign:
            return "org.vfiod1.assign";
        case Action::Reset:
            return "org.vfiod1.reset";
        case Action::Migrate:
            return "org.vfiod1.migrate";
        case Action::Manage:
            return "org.vfiod1.manage";
    }
    return "org.vfiod1.manage";
}

std::string Caller::owner() const
{
    return sender + " uid=" + std::to_string(uid);
}

std::optional<uid_t> ownerUid(std::string_view owner)
{
    constexpr std::string_view marker = " uid=";
    size_t at = owner.rfind(marker);
    if (at == std::string_view::npos)
    {
        return std::nullopt;
    }
    std::string_view digits = owner.substr(at + marker.size());
    uid_t uid = 0;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), uid);
    if (ec != std::errc() || end != digits.data() + digits.size())
    {
        return std::nullopt;
    }
    return uid;
}

uid_t lookupCallerUid(sdbus::IConnection& bus, const std::string& sender)
{
    try
    {
        auto driver = sdbus::createProxy(bus, "org.freedesktop.DBus",
                                         "/org/freedesktop/DBus");
        uint32_t uid = 0;
        driver->callMethod("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withArguments(sender)
            .storeResultsTo(uid);
        return static_cast<uid_t>(uid);
    }
    catch (const sdbus::Error& e)
    {
        fail(Errc::AccessDenied,
             "cannot identify the caller " + sender + ": " + e.getMessage());
    }
}

Authorizer::Authorizer(AccessSource access) : access(std::move(access)) {}

bool Authorizer::isPrivileged(uid_t uid) const
{
    return uid == 0 || isListed(uid, access());
}

bool Authorizer::isListed(uid_t uid, const AccessConfig& lists)
{
    if (lists.users.empty() && lists.groups.empty())
    {
        return false;
    }
    auto account = accountOf(uid);
    if (!account)
    {
        return contains(lists.users, std::to_string(uid));
    }
    if (contains(lists.users, account->name))
    {
        return true;
    }
    if (lists.groups.empty())
    {
        return false;
    }
    for (const std::string& groupName : groupNamesOf(*account))
    {
        if (contains(lists.groups, groupName))
        {
            return true;
        }
    }
    return false;
}

void Authorizer::authorize(sdbus::IConnection& bus, const Caller& caller,
                           Action action,
                           const std::map<std::string, std::string>& details,
                           const std::string& what,
                           const AccessConfig& assigners) const
{
    if (isPrivileged(caller.uid))
    {
        logDebug(what + ": " + caller.owner() + " is privileged");
        return;
    }
    if (action == Action::Assign && isListed(caller.uid, assigners))
    {
        logDebug(what + ": " + caller.owner() +
                 " is named by the device's policy rule");
        return;
    }
    std::string id(actionId(action));
    PolkitAnswer answer;
    try
    {
        answer = checkAuthorization(bus, caller.sender, id, details);
    }
    catch (const sdbus::Error& e)
    {
        logWarning(what + ": cannot ask polkit about " + id + " for " +
                   caller.owner() + ": " + e.getName() + ": " + e.getMessage());
        fail(Errc::AccessDenied,
             what +
                 ": not authorized: polkit, which decides for users "
                 "other than root and those in [access] of vfiod.toml, "
                 "could not be asked (" +
                 e.getMessage() + ")");
    }
    logDebug(what + ": polkit says " + (answer.authorized ? "yes" : "no") +
             " to " + id + " for " + caller.owner());
    if (!answer.authorized)
    {
        fail(Errc::AccessDenied,
             what + ": uid " + std::to_string(caller.uid) +
                 " is not authorized for " + id +
                 (answer.challenge
                      ? " without authenticating, and vfiod cannot ask for "
                        "a password; run it through pkexec or sudo"
                      : ""));
    }
}

} // namespace vfiod::daemon
