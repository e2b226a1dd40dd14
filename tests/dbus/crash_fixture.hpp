#pragma once

#include "vfiod_fixture.hpp"

#include <map>
#include <string>
#include <vector>

namespace vfiod::test
{

/**
 * @brief vfiod killed with SIGKILL and started again on one simulated
 * host (conf/sim-host.toml unless a test gives its own), with the
 * invariants every restart must meet: each device is either on its
 * original driver with no record, or on vfio with a record that remembers
 * that driver (and its owner, whose lease waits for a re-attach); no
 * kernel operation is left in flight. None is lost, none is left without
 * a driver.
 */
class CrashTest : public VfiodTest
{
  protected:
    /** The devices of the rounds, with the drivers they have at boot (the
     *  migratable one has none). */
    static const std::map<std::string, std::string>& bootDrivers();
    static const std::vector<std::string>& nics();
    static const std::string migratable;

    static std::string sampleHost();
    /** The sample host with every unbind of the two devices taking
     *  @p delayMs, written into @p dir: a vfiod killed in the middle
     *  leaves the unbind in flight, for the next one to find. */
    static std::string slowUnbindHost(const TempDir& dir, int delayMs);
    /** A grace longer than a round: an assignment from before a kill stays
     *  put while a round checks it (expiry is its own test's subject). The
     *  built plugins, so that migration steps really run. */
    static std::string crashConfig();

    /** @brief Starts vfiod on #host; @p env for vfiod alone. */
    void start(const std::vector<std::string>& env = {});
    void killVfiod();
    /** @brief The invariants, checked against the kernel and the ledger;
     *  @p where names the round in failures. */
    void checkDevices(const std::string& where);

    std::string host = sampleHost();

    // What the rounds ran into: a test whose kills never caught vfiod
    // mid-way would prove nothing.
    int seenOnHost = 0;
    int seenOnVfio = 0;
    int seenAssigned = 0;
    int seenGivenBack = 0;
    int seenDropped = 0;
};

} // namespace vfiod::test
