#pragma once

#include "base/pci_address.hpp"
#include "kernel/kernel_host.hpp"
#include "sim/sim_model.hpp"
#include "sim/sim_state_store.hpp"
#include "sim/sim_uevent_log.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

namespace sim
{
struct Tx;
struct Step;
} // namespace sim

/**
 * @brief The simulated kernel behind SimHost: every call is one
 * transaction on the shared state (in-process mutex + flock, reload when
 * another process changed it, write-through when this call changed it),
 * and a call the kernel would block waits with neither lock held.
 */
class SimKernel
{
  public:
    SimKernel(const std::string& hostFile, const std::string& stateDir);

    std::optional<std::string> read(const std::string& path);
    void write(const std::string& path, std::string_view value);
    std::optional<std::string> readLinkName(const std::string& path);
    std::vector<std::string> list(const std::string& path);
    bool exists(const std::string& path);
    /** @brief All of @p reads in one transaction (KernelHost::readTogether). */
    void readTogether(const std::function<void()>& reads);
    void modprobe(const std::string& module);
    std::string modulesAlias();
    bool devNodeExists(const std::string& path);
    bool waitDevNode(const std::string& path,
                     std::chrono::milliseconds timeout);
    std::unique_ptr<UeventSource> openUevents();

    UniqueFd openAttribute(const std::string& path, int flags);

    void hotAdd(const std::string& deviceToml);
    void hotRemove(const PciAddress& address);
    void openDevice(const PciAddress& address);
    void closeDevice(const PciAddress& address);
    std::vector<VfioHolder> vfioHolders();

    const std::string& stateDir() const noexcept
    {
        return store.dir();
    }

  private:
    template <typename F>
    auto readTransaction(F&& body);
    template <typename F>
    auto writeTransaction(F&& body);

    void requireState();
    /** @brief One try of readTogether, under the locks. */
    void readTogetherOnce(const std::function<void()>& reads);
    /** @brief Refuses what would deadlock inside readTogether. */
    void requireNotReadingTogether(const char* what) const;
    /** @brief Where simulated migration streams live. */
    std::string migrationDir() const
    {
        return store.dir() + "/migration";
    }
    /** @brief Runs a blocking operation to its end (see sim_writes.hpp);
     *  @p killPoint is its step of sim_kill_point.hpp (0: none). */
    void runSteps(const std::function<sim::Step(sim::Tx&)>& attempt,
                  const std::string& what, unsigned killPoint);
    void waitPending(const PciAddress& address, uint64_t pendingId,
                     int64_t readyAtMs);

    std::mutex mutex;
    sim::SimStateStore store;
    sim::SimUeventLog log;
    sim::Model model;
};

/** @brief CLOCK_REALTIME in ms: pending deadlines are shared by processes. */
int64_t simNowMs();

} // namespace vfiod
