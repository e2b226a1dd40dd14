#pragma once

#include "authz.hpp"

#include <optional>
#include <string_view>

namespace vfiod::daemon
{

/**
 * @brief What a bus method asks of its caller: std::nullopt for the
 * methods that change nothing (open to every caller), otherwise the
 * polkit action it needs. One table for the Manager and Device methods
 * (authz_table.cpp), in the manner of bolt's bouncer.
 * @throws Error(Errc::AccessDenied) for a method the table does not name:
 *         whatever nobody decided is refused.
 */
std::optional<Action> actionFor(std::string_view method);

} // namespace vfiod::daemon
