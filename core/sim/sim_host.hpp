#pragma once

#include "base/pci_address.hpp"
#include "kernel/kernel_host.hpp"

#include <functional>
#include <memory>
#include <string>

namespace vfiod
{

class SimKernel;

/**
 * @brief A simulated Linux host behind the KernelHost boundary.
 *
 * The simulated kernel's state lives in a state directory, written through
 * atomically on every change, so it outlives any process using it: the
 * daemon, the vfiod-sim tool and tests can all open the same directory,
 * and a daemon killed mid-operation finds the "kernel" as a real kernel
 * would be. A state directory without state is initialised from the host
 * description file (see conf/sim-host.toml for the format).
 *
 * Uevents are appended to a log in the state directory; openUevents()
 * tails it, so every process sees the changes every other process makes.
 */
class SimHost final : public KernelHost
{
  public:
    /**
     * @param hostFile the TOML host description; read only when stateDir
     *        holds no state yet (may then be empty).
     * @param stateDir the directory holding the simulated kernel's state.
     * @throws Error(Errc::InvalidArgument) for a malformed host file, with
     *         file:line:column.
     */
    SimHost(const std::string& hostFile, const std::string& stateDir);
    ~SimHost() override;

    std::string_view backend() const noexcept override
    {
        return "sim";
    }
    std::optional<std::string> read(const std::string& path) override;
    void write(const std::string& path, std::string_view value) override;
    std::optional<std::string> readLinkName(const std::string& path) override;
    std::vector<std::string> list(const std::string& path) override;
    bool exists(const std::string& path) override;
    void readTogether(const std::function<void()>& reads) override;
    void modprobe(const std::string& module) override;
    std::string modulesAlias() override;
    bool devNodeExists(const std::string& path) override;
    bool waitDevNode(const std::string& path,
                     std::chrono::milliseconds timeout) override;
    std::unique_ptr<UeventSource> openUevents() override;
    /**
     * @brief Only sim_migration_data opens here: the device's current
     * migration stream (sim_migration.hpp); other files give EACCES.
     */
    UniqueFd openAttribute(const std::string& path, int flags) override;
    /**
     * @brief The simulated openers (openDevice) of every device, each as
     * a holder of its group's node; every simulated opener is a VMM, even
     * one in this process.
     */
    std::vector<VfioHolder> vfioHolders() override;

    // What an administrator or the hardware does, beyond sysfs writes.

    /**
     * @brief Hot-adds a device described by a TOML [[device]] table text.
     * @throws Error(Errc::InvalidArgument) for a bad description,
     *         Error(Errc::Busy) when the address is taken.
     */
    void hotAdd(const std::string& deviceToml);

    /** @brief Surprise-removes a device (its VFs first, if any). */
    void hotRemove(const PciAddress& address);

    /**
     * @brief Simulates a process opening the device through vfio (opens >
     * 0 makes an unbind from a vfio driver block until it is closed).
     */
    void openDevice(const PciAddress& address);
    void closeDevice(const PciAddress& address);

    /** @brief The state directory. */
    const std::string& stateDir() const noexcept;

  private:
    std::unique_ptr<SimKernel> kernel;
};

namespace sim
{

/**
 * @brief For tests, which must wait for events, not for the clock: calls
 * @p observer on the waiting thread once each time a call of this process
 * is about to block in the simulated kernel (a write behind another's
 * pending operation or in its own, a removal, or waitDevNode for an absent
 * node), with the device's address or the node's path. The waiter watches
 * the state already, so a change the observer brings about is not missed.
 * Empty (the default): nothing is called; nothing else changes.
 */
void setWaitObserver(std::function<void(const std::string& what)> observer);

} // namespace sim

} // namespace vfiod
