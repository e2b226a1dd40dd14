// The state machine against the kernel's table, for every pair of states
// under every flag set. The expected walks come from an independent
// transcription of vfio_from_fsm_table and vfio_mig_get_next_state below,
// written in the reference's row and column order (S R SC RS RP PC PCP E),
// not the uAPI's, so a transposition in either copy shows.
#include "base/error.hpp"
#include "kernel/migration_fsm.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vfiod::migration
{
namespace
{

const std::vector<std::string> order = {
    "STOP",        "RUNNING",  "STOP_COPY",    "RESUMING",
    "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P", "ERROR"};
const std::map<std::string, std::string> abbrev = {
    {"S", "STOP"},           {"R", "RUNNING"},      {"SC", "STOP_COPY"},
    {"RS", "RESUMING"},      {"RP", "RUNNING_P2P"}, {"PC", "PRE_COPY"},
    {"PCP", "PRE_COPY_P2P"}, {"E", "ERROR"}};

// vfio_from_fsm_table[cur][new], rows and columns S R SC RS RP PC PCP E.
const std::vector<std::vector<std::string>> kernelTable = {
    /* S   */ {"S", "RP", "SC", "RS", "RP", "RP", "RP", "E"},
    /* R   */ {"RP", "R", "RP", "RP", "RP", "PC", "RP", "E"},
    /* SC  */ {"S", "S", "SC", "S", "S", "E", "E", "E"},
    /* RS  */ {"S", "S", "S", "RS", "S", "S", "S", "E"},
    /* RP  */ {"S", "R", "S", "S", "RP", "R", "PCP", "E"},
    /* PC  */ {"R", "R", "PCP", "R", "R", "PC", "PCP", "E"},
    /* PCP */ {"RP", "RP", "SC", "RP", "RP", "PC", "PCP", "E"},
    /* E   */ {"E", "E", "E", "E", "E", "E", "E", "E"},
};

size_t column(const std::string& name)
{
    return static_cast<size_t>(std::find(order.begin(), order.end(), name) -
                               order.begin());
}

std::string kernelNext(const std::string& cur, const std::string& target)
{
    return abbrev.at(kernelTable[column(cur)][column(target)]);
}

/** state_flags_table; ERROR needs ~0U. */
bool kernelSupports(const std::string& state, Flags flags)
{
    uint64_t needs = 1; // STOP_COPY
    if (state == "RUNNING_P2P")
    {
        needs = 1 | 2;
    }
    else if (state == "PRE_COPY")
    {
        needs = 1 | 4;
    }
    else if (state == "PRE_COPY_P2P")
    {
        needs = 1 | 2 | 4;
    }
    else if (state == "ERROR")
    {
        needs = ~uint64_t{0};
    }
    return (flags & needs) == needs;
}

/**
 * The kernel's algorithm as a driver runs it: call
 * vfio_mig_get_next_state until the target, each call skipping
 * unsupported states. The real skip loop never ends on a blocked arc; a
 * bound turns that into "refused" here (nullopt).
 */
std::optional<std::vector<std::string>>
    kernelWalk(const std::string& cur, const std::string& target, Flags flags)
{
    bool deviceOk = (flags & 1) != 0 && (flags & ~uint64_t{7}) == 0;
    if (!deviceOk || !kernelSupports(cur, flags) ||
        !kernelSupports(target, flags))
    {
        return std::nullopt;
    }
    std::vector<std::string> path;
    std::string at = cur;
    while (at != target)
    {
        std::string next = kernelNext(at, target);
        int spins = 0;
        while (!kernelSupports(next, flags))
        {
            next = kernelNext(next, target);
            if (++spins > 100)
            {
                return std::nullopt; // the kernel would spin forever here
            }
        }
        if (next == "ERROR")
        {
            return std::nullopt;
        }
        path.push_back(next);
        at = next;
    }
    return path;
}

const std::vector<Flags> flagSets = {
    // The four sets the vfio core accepts...
    StopCopyFlag,
    StopCopyFlag | P2PFlag,
    StopCopyFlag | PreCopyFlag,
    StopCopyFlag | P2PFlag | PreCopyFlag,
    // ...and ones it refuses.
    0,
    P2PFlag,
    PreCopyFlag,
    P2PFlag | PreCopyFlag,
    StopCopyFlag | 8,
};

std::vector<std::string> names(const std::vector<State>& states)
{
    std::vector<std::string> out;
    for (State s : states)
    {
        out.emplace_back(stateName(s));
    }
    return out;
}

TEST(MigrationFsm, EveryPairUnderEveryFlagSetMatchesTheKernel)
{
    int checked = 0;
    for (Flags flags : flagSets)
    {
        for (const std::string& from : order)
        {
            for (const std::string& to : order)
            {
                SCOPED_TRACE(from + " -> " + to + " flags " +
                             std::to_string(flags));
                State a = *parseState(from);
                State b = *parseState(to);
                auto expected = kernelWalk(from, to, flags);
                if (expected)
                {
                    EXPECT_EQ(names(walk(a, b, flags)), *expected);
                }
                else
                {
                    try
                    {
                        walk(a, b, flags);
                        ADD_FAILURE() << "walk accepted a refused request";
                    }
                    catch (const Error& e)
                    {
                        EXPECT_EQ(e.code(), Errc::InvalidArgument);
                    }
                }
                // One arc is exactly a walk of one step.
                EXPECT_EQ(isArc(a, b, flags),
                          expected && expected->size() == 1);
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 9 * 64);
}

TEST(MigrationFsm, BlockedArcsAreRefusedNotWalked)
{
    Flags all = StopCopyFlag | P2PFlag | PreCopyFlag;
    for (State target : {State::PreCopy, State::PreCopyP2P})
    {
        try
        {
            walk(State::StopCopy, target, all);
            FAIL() << "STOP_COPY -> " << stateName(target) << " accepted";
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::InvalidArgument);
            EXPECT_NE(std::string(e.what()).find("blocked"), std::string::npos)
                << e.what();
        }
    }
}

TEST(MigrationFsm, KnownWalks)
{
    // QEMU's destination: RUNNING -> RESUMING passes RUNNING_P2P and STOP.
    EXPECT_EQ(
        names(walk(State::Running, State::Resuming, StopCopyFlag | P2PFlag)),
        (std::vector<std::string>{"RUNNING_P2P", "STOP", "RESUMING"}));
    // Without P2P the same request skips RUNNING_P2P.
    EXPECT_EQ(names(walk(State::Running, State::Resuming, StopCopyFlag)),
              (std::vector<std::string>{"STOP", "RESUMING"}));
    EXPECT_EQ(names(walk(State::PreCopy, State::StopCopy,
                         StopCopyFlag | PreCopyFlag)),
              (std::vector<std::string>{"STOP_COPY"}));
    EXPECT_TRUE(walk(State::Stop, State::Stop, StopCopyFlag).empty());
}

TEST(MigrationFsm, NamesNumbersAndFlags)
{
    for (uint32_t i = 0; i < stateCount; ++i)
    {
        State s = *stateFromNumber(i);
        EXPECT_EQ(static_cast<uint32_t>(s), i);
        EXPECT_EQ(parseState(stateName(s)), s);
    }
    EXPECT_EQ(static_cast<uint32_t>(State::PreCopyP2P), 7U);
    EXPECT_FALSE(stateFromNumber(8));
    EXPECT_FALSE(parseState("running"));
    EXPECT_FALSE(parseState("RUNNING "));
    EXPECT_EQ(formatFlags(7), "STOP_COPY|P2P|PRE_COPY");
    EXPECT_EQ(formatFlags(0), "");
    EXPECT_TRUE(flagsValid(StopCopyFlag | PreCopyFlag));
    EXPECT_FALSE(flagsValid(P2PFlag));
    EXPECT_TRUE(arcCarriesData(State::Stop, State::Resuming));
    EXPECT_FALSE(arcCarriesData(State::PreCopyP2P, State::StopCopy));
}

} // namespace
} // namespace vfiod::migration
