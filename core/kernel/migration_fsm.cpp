#include "kernel/migration_fsm.hpp"

#include "base/error.hpp"

#include <array>

namespace vfiod::migration
{

namespace
{

constexpr std::array<std::string_view, stateCount> names = {
    "ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
    "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

constexpr State E = State::Error;
constexpr State S = State::Stop;
constexpr State R = State::Running;
constexpr State SC = State::StopCopy;
constexpr State RS = State::Resuming;
constexpr State RP = State::RunningP2P;
constexpr State PC = State::PreCopy;
constexpr State PCP = State::PreCopyP2P;

// vfio_from_fsm_table of drivers/vfio/vfio_main.c, indexed by the uAPI
// numbers: [current][target] gives the next state to step to.
constexpr std::array<std::array<State, stateCount>, stateCount> fsmTable = {{
    /* ERROR */ {E, E, E, E, E, E, E, E},
    /* STOP */ {E, S, RP, SC, RS, RP, RP, RP},
    /* RUNNING */ {E, RP, R, RP, RP, RP, PC, RP},
    /* STOP_COPY */ {E, S, S, SC, S, S, E, E},
    /* RESUMING */ {E, S, S, S, RS, S, S, S},
    /* RUNNING_P2P */ {E, S, R, S, S, RP, R, PCP},
    /* PRE_COPY */ {E, R, R, PCP, R, R, PC, PCP},
    /* PRE_COPY_P2P */ {E, RP, RP, SC, RP, RP, PC, PCP},
}};

// state_flags_table of vfio_main.c: the flags a state needs. ERROR needs
// every bit, so no device "supports" it.
constexpr std::array<Flags, stateCount> needs = {
    ~Flags{0},
    StopCopyFlag,
    StopCopyFlag,
    StopCopyFlag,
    StopCopyFlag,
    StopCopyFlag | P2PFlag,
    StopCopyFlag | PreCopyFlag,
    StopCopyFlag | P2PFlag | PreCopyFlag,
};

unsigned index(State state) noexcept
{
    return static_cast<unsigned>(state);
}

} // namespace

namespace
{

/** @brief The kernel's skip loop, stopping at ERROR instead of spinning. */
State skipUnsupported(State next, State target, Flags flags) noexcept
{
    while (next != State::Error && !supports(flags, next))
    {
        next = nextStep(next, target);
    }
    return next;
}

} // namespace

std::string_view stateName(State state) noexcept
{
    return index(state) < stateCount ? names[index(state)] : "INVALID";
}

std::optional<State> parseState(std::string_view name) noexcept
{
    for (unsigned i = 0; i < stateCount; ++i)
    {
        if (names[i] == name)
        {
            return static_cast<State>(i);
        }
    }
    return std::nullopt;
}

std::optional<State> stateFromNumber(uint32_t value) noexcept
{
    if (value >= stateCount)
    {
        return std::nullopt;
    }
    return static_cast<State>(value);
}

std::string formatFlags(Flags flags)
{
    std::string text;
    auto add = [&text](std::string_view name) {
        text += text.empty() ? "" : "|";
        text += name;
    };
    if ((flags & StopCopyFlag) != 0)
    {
        add("STOP_COPY");
    }
    if ((flags & P2PFlag) != 0)
    {
        add("P2P");
    }
    if ((flags & PreCopyFlag) != 0)
    {
        add("PRE_COPY");
    }
    return text;
}

bool flagsValid(Flags flags) noexcept
{
    constexpr Flags known = StopCopyFlag | P2PFlag | PreCopyFlag;
    return (flags & StopCopyFlag) != 0 && (flags & ~known) == 0;
}

bool supports(Flags flags, State state) noexcept
{
    return index(state) < stateCount &&
           (needs[index(state)] & flags) == needs[index(state)];
}

State nextStep(State current, State target) noexcept
{
    if (index(current) >= stateCount || index(target) >= stateCount)
    {
        return State::Error;
    }
    return fsmTable[index(current)][index(target)];
}

bool isArc(State from, State to, Flags flags) noexcept
{
    if (!flagsValid(flags) || from == to || !supports(flags, from) ||
        !supports(flags, to))
    {
        return false;
    }
    // An arc through optional states the device lacks is one step for it
    // (with STOP_COPY alone, STOP -> RUNNING skips RUNNING_P2P).
    return skipUnsupported(nextStep(from, to), to, flags) == to;
}

bool arcCarriesData(State from, State to) noexcept
{
    return (from == R && to == PC) || (from == RP && to == PCP) ||
           (from == S && to == SC) || (from == S && to == RS);
}

std::vector<State> walk(State current, State target, Flags flags)
{
    auto refuse = [&](const std::string& why) {
        fail(Errc::InvalidArgument,
             "migration state " + std::string(stateName(current)) + " -> " +
                 std::string(stateName(target)) + " refused: " + why);
    };
    if (!flagsValid(flags))
    {
        refuse("the device's migration flags (" + formatFlags(flags) +
               ") are not a set the vfio core accepts");
    }
    if (!supports(flags, current))
    {
        refuse("the device is in a state its flags do not allow");
    }
    if (target == State::Error)
    {
        refuse("ERROR cannot be requested");
    }
    if (!supports(flags, target))
    {
        refuse("the device does not support " + std::string(stateName(target)) +
               " (flags " + formatFlags(flags) + ")");
    }
    std::vector<State> path;
    State at = current;
    while (at != target)
    {
        // The kernel's skip loop; ERROR ends it here rather than spinning
        // (the blocked STOP_COPY -> PRE_COPY(_P2P) arcs lead there).
        State next = skipUnsupported(nextStep(at, target), target, flags);
        if (next == State::Error)
        {
            refuse("the kernel's state machine has no path (" +
                   std::string(stateName(at)) + " -> " +
                   std::string(stateName(target)) + " is blocked)");
        }
        path.push_back(next);
        at = next;
    }
    return path;
}

} // namespace vfiod::migration
