#include "authz_table.hpp"

#include "base/error.hpp"

#include <array>
#include <string>
#include <utility>

namespace vfiod::daemon
{

namespace
{

/// Every method of dbus/org.vfiod1.{Manager,Device}.xml (tests/dbus checks
/// the table against the XML). A method added to the API and not here is
/// refused to everybody until someone decides who may call it.
constexpr std::array<std::pair<std::string_view, std::optional<Action>>, 16>
    table{{
        // Manager: reads are open; Reload changes what vfiod does.
        {"GetDevice", std::nullopt},
        {"ListDevices", std::nullopt},
        {"Explain", std::nullopt},
        {"UdevRules", std::nullopt},
        {"Reload", Action::Manage},
        // Device: where it is bound, who holds it, its state.
        {"Bind", Action::Bind},
        {"Unbind", Action::Bind},
        {"Assign", Action::Assign},
        {"Reattach", Action::Assign},
        {"Release", Action::Assign},
        {"Reset", Action::Reset},
        {"SetMigrationState", Action::Migrate},
        {"SaveState", Action::Migrate},
        {"LoadState", Action::Migrate},
        {"Migrate", Action::Migrate},
        {"CancelMigration", Action::Migrate},
    }};

} // namespace

std::optional<Action> actionFor(std::string_view method)
{
    for (const auto& [name, action] : table)
    {
        if (name == method)
        {
            return action;
        }
    }
    fail(Errc::AccessDenied, std::string(method) +
                                 ": not in vfiod's authorization table, "
                                 "refused to every caller");
}

} // namespace vfiod::daemon
