#pragma once

#include "sim/sim_model.hpp"

#include <optional>
#include <string>
#include <string_view>

/**
 * @brief The state file's text format.
 *
 * Line oriented so that thousands of devices load in milliseconds:
 *
 *     vfiod-sim-state 1 <instance> <generation>
 *     seqnum <n>
 *     pending_id <n>
 *     kernel <release>
 *     module name=vfio_pci loaded=0 drivers=vfio-pci depends=vfio ...
 *     driver name=vfio-pci module=vfio_pci override_only=1 ids=... ...
 *     registered <driver> <driver> ...
 *     device addr=0000:03:00.0 vendor=8086 device=1572 class=020000 ...
 *
 * Records are space separated key=value tokens; values are escaped with
 * sim_text.hpp, lists are comma separated, numbers hex where the kernel
 * prints hex. Keys equal to their default are left out, so an idle device
 * costs about 150 bytes. The header line alone tells whether the state
 * changed (instance + generation), which keeps cache checks cheap.
 *
 * sim_state_writer.cpp writes it and sim_state_parser.cpp reads it; a key
 * added to one must be added to the other: one only the writer knows makes
 * every load fail as corrupt, one only the parser knows is silently lost.
 */
namespace vfiod::sim
{

inline constexpr std::string_view stateMagic = "vfiod-sim-state";

/** @brief The whole state as text. */
std::string formatState(const Model& model);

/**
 * @brief Parses a state file.
 * @throws Error(Errc::Failed) naming @p path and the line for a corrupt
 * or unknown record.
 */
Model parseState(std::string_view text, const std::string& path);

/** @brief instance and generation from the first line, if well formed. */
struct StateStamp
{
    std::string instance;
    uint64_t generation = 0;

    bool operator==(const StateStamp&) const = default;
};
std::optional<StateStamp> parseStateStamp(std::string_view firstLine);

} // namespace vfiod::sim
