// vfiod killed with SIGKILL at every kernel step of each operation in turn,
// before the step reaches the simulated kernel and after it (an unbind then
// still in flight, finished by the kernel without its writer), through the
// simulated kernel's kill point (core/sim/sim_kill_point.hpp). After every
// restart, the invariants of crash_fixture.hpp: each device on a driver,
// with a record that says which.

#include "crash_fixture.hpp"

#include <signal.h>

#include <functional>
#include <iostream>
#include <optional>
#include <regex>

#include <gtest/gtest.h>

namespace vfiod::test
{
namespace
{

const std::string nvme = "0000:02:00.0";

/** How long each simulated unbind takes: a kill "after" an unbind leaves it
 *  in flight, for the restarted vfiod to find. */
constexpr int unbindDelayMs = 100;

/** One operation: what puts the devices where it starts from, and the call
 *  under test. Both run on the vfiod that is to be killed. */
struct Operation
{
    std::string name;
    std::function<void()> setup;
    std::function<void()> run;
};

class CrashStepsTest : public CrashTest
{
  protected:
    void SetUp() override
    {
        CrashTest::SetUp();
        host = slowUnbindHost(scratch, unbindDelayMs);
    }

    /** A fresh bus and simulated kernel, so every round starts alike. */
    void freshHost()
    {
        lease = sdbus::UnixFd();
        manager.reset();
        connection.reset();
        bus = std::make_unique<VfiodBus>();
    }

    /** The steps the kill point has counted so far, from vfiod's log. */
    unsigned stepsSoFar()
    {
        static const std::regex step("vfiod-sim kill point: step ([0-9]+):");
        std::string log = bus->vfiodLog();
        unsigned last = 0;
        for (std::sregex_iterator it(log.begin(), log.end(), step), end;
             it != end; ++it)
        {
            last = static_cast<unsigned>(std::stoul((*it)[1]));
        }
        return last;
    }

    /** @brief The operation once without a kill: how many steps vfiod
     *  takes before it and in it. */
    std::pair<unsigned, unsigned> countSteps(const Operation& op)
    {
        freshHost();
        start({"VFIOD_SIM_KILL_AT=0"});
        op.setup();
        unsigned before = stepsSoFar();
        op.run();
        // Whatever the operation leaves to finish in the background
        // (a lease's expiry is not one: the grace outlasts the test).
        unsigned after = stepsSoFar();
        EXPECT_EQ(bus->stopVfiod(), std::optional<int>(0)) << bus->vfiodLog();
        return {before, after - before};
    }

    /** @brief One round: killed at step @p at, restarted, checked. */
    void killAt(const Operation& op, unsigned at, const std::string& when)
    {
        std::string where =
            op.name + ", killed " + when + " step " + std::to_string(at);
        SCOPED_TRACE(where);
        freshHost();
        start({"VFIOD_SIM_KILL_AT=" + std::to_string(at),
               "VFIOD_SIM_KILL_WHEN=" + when});
        op.setup();
        try
        {
            op.run();
        }
        catch (const sdbus::Error&)
        {
            // The reply never comes: the bus says vfiod went away.
        }
        manager.reset();
        connection.reset();
        ASSERT_EQ(bus->vfiodProcess()->wait(), 128 + SIGKILL)
            << bus->vfiodLog();
        lease = sdbus::UnixFd(); // its holder died with the kill
        start();
        checkDevices(where);
        ++rounds;
    }

    Operation operation(const std::string& name, std::function<void()> setup,
                        std::function<void()> run)
    {
        return Operation{name, std::move(setup), std::move(run)};
    }

    std::vector<Operation> operations()
    {
        auto none = [] {};
        auto bind = [this](const std::string& nic) {
            return [this, nic] { device(nic)->Bind({}); };
        };
        return {
            operation("Bind " + nvme, none, bind(nvme)),
            operation("Unbind " + nvme, bind(nvme),
                      [this] { device(nvme)->Unbind({}); }),
            operation("Assign " + nvme, none,
                      [this] { lease = device(nvme)->Assign({}); }),
            operation(
                "Release " + nvme, [this] { lease = device(nvme)->Assign({}); },
                [this] { device(nvme)->Release({}); }),
            operation("Reset " + nvme, bind(nvme),
                      [this] { device(nvme)->Reset({}); }),
            // Killed while assigned: the owner's lease waits for it.
            operation(
                "Reset assigned " + nvme,
                [this] { lease = device(nvme)->Assign({}); },
                [this] { device(nvme)->Reset({}); }),
            operation("Bind " + migratable, none, bind(migratable)),
            operation("Unbind " + migratable, bind(migratable),
                      [this] { device(migratable)->Unbind({}); }),
            operation(
                "SetMigrationState STOP_COPY " + migratable, bind(migratable),
                [this] {
                    device(migratable)->SetMigrationState("STOP_COPY", {});
                }),
        };
    }

    TempDir scratch;
    sdbus::UnixFd lease;
    int rounds = 0;
};

TEST_F(CrashStepsTest, KilledAtEveryStepLeavesEveryDeviceOnADriver)
{
    for (const Operation& op : operations())
    {
        auto [before, steps] = countSteps(op);
        std::cout << op.name << ": " << steps << " steps (after " << before
                  << " of setting up)" << std::endl;
        for (unsigned step = 1; step <= steps && !HasFatalFailure(); ++step)
        {
            for (const char* when : {"before", "after"})
            {
                killAt(op, before + step, when);
            }
        }
        if (HasFatalFailure())
        {
            return;
        }
    }
    std::cout << rounds << " rounds: " << seenOnHost
              << " devices on their boot driver, " << seenOnVfio << " on vfio ("
              << seenAssigned
              << " assigned); restarts that finished a give-back: "
              << seenGivenBack
              << ", that dropped an unfinished bind: " << seenDropped
              << std::endl;
    // Every order was reached: the kills fell both sides of each bind.
    EXPECT_GT(seenOnHost, 0);
    EXPECT_GT(seenOnVfio, 0);
    EXPECT_GT(seenAssigned, 0);
    EXPECT_GT(seenGivenBack, 0);
    EXPECT_GT(seenDropped, 0);
    expectCleanExit = true;
}

} // namespace
} // namespace vfiod::test
