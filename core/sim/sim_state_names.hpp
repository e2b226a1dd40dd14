#pragma once

#include "sim/sim_model.hpp"

#include <cstddef>
#include <string_view>
#include <utility>

/**
 * @brief The state file's words for the model's enums, in one table each
 * so that the writer (sim_state_writer.cpp) and the parser
 * (sim_state_parser.cpp) cannot disagree about them.
 */
namespace vfiod::sim
{

/// PendingKind::None is never written: a device without one has no key.
inline constexpr std::pair<std::string_view, PendingKind> pendingKindNames[] = {
    {"unbind", PendingKind::Unbind},
    {"reset", PendingKind::Reset},
    {"remove", PendingKind::Remove},
    {"disable_sriov", PendingKind::DisableSriov},
};

inline constexpr std::pair<std::string_view, VfGroup> vfGroupNames[] = {
    {"own", VfGroup::Own},
    {"pf", VfGroup::Pf},
    {"none", VfGroup::None},
};

/** @brief @p value's word in @p names ("" when it has none). */
template <typename E, std::size_t N>
constexpr std::string_view
    nameOf(const std::pair<std::string_view, E> (&names)[N], E value)
{
    for (const auto& [name, known] : names)
    {
        if (known == value)
        {
            return name;
        }
    }
    return {};
}

} // namespace vfiod::sim
