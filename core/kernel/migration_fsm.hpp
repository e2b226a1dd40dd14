#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The VFIO migration state machine (uAPI v2, linux/vfio.h), walked
 * exactly as the kernel's vfio_mig_get_next_state() walks it.
 *
 * vfiod validates every request against its own copy of the table before
 * a plugin (and so the kernel) sees it: on kernels without the fix
 * "vfio: prevent infinite loop in vfio_mig_get_next_state() on blocked
 * arc", asking for STOP_COPY->PRE_COPY(_P2P) spins forever in the kernel.
 */
namespace vfiod::migration
{

/** @brief enum vfio_device_mig_state, with the uAPI's numbers. */
enum class State : uint32_t
{
    Error = 0,
    Stop = 1,
    Running = 2,
    StopCopy = 3,
    Resuming = 4,
    RunningP2P = 5,
    PreCopy = 6,
    PreCopyP2P = 7,
};

inline constexpr unsigned stateCount = 8;

/** @brief VFIO_MIGRATION_* bits. */
enum Flag : uint64_t
{
    StopCopyFlag = 1U << 0,
    P2PFlag = 1U << 1,
    PreCopyFlag = 1U << 2,
};
using Flags = uint64_t;

/** @brief The kernel's name: "RUNNING", "PRE_COPY_P2P", ... */
std::string_view stateName(State state) noexcept;

/** @brief Parses a kernel state name (upper case, exact). */
std::optional<State> parseState(std::string_view name) noexcept;

/** @brief The state with uAPI number @p value, if there is one. */
std::optional<State> stateFromNumber(uint32_t value) noexcept;

/** @brief "STOP_COPY|P2P|PRE_COPY" ("" for none). */
std::string formatFlags(Flags flags);

/**
 * @brief Whether a device may declare @p flags: the vfio core requires
 * STOP_COPY, and knows no other bits than the three.
 */
bool flagsValid(Flags flags) noexcept;

/** @brief Whether a device with @p flags can be in @p state (never ERROR). */
bool supports(Flags flags, State state) noexcept;

/** @brief vfio_from_fsm_table[current][target]: the kernel's next step. */
State nextStep(State current, State target) noexcept;

/**
 * @brief Whether @p from -> @p to is one arc a device with @p flags
 * performs (what a driver's step function accepts).
 */
bool isArc(State from, State to, Flags flags) noexcept;

/** @brief Whether the arc hands out a data fd (R->PC, RP->PCP, S->SC, S->RS).
 */
bool arcCarriesData(State from, State to) noexcept;

/**
 * @brief The states a device passes through from @p current to @p target,
 * one arc each, excluding @p current: [] when they are equal.
 * @throws Error(InvalidArgument) when @p flags are not a valid set, when
 *         @p current or @p target is not supported by @p flags, when
 *         @p target is ERROR, or when the walk reaches ERROR (the blocked
 *         STOP_COPY->PRE_COPY and STOP_COPY->PRE_COPY_P2P requests).
 */
std::vector<State> walk(State current, State target, Flags flags);

} // namespace vfiod::migration
