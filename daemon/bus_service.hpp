#pragma once

#include "authz.hpp"
#include "call_limits.hpp"
#include "config_store.hpp"
#include "lease.hpp"
#include "main_loop.hpp"
#include "object_tree.hpp"
#include "operations.hpp"
#include "requests.hpp"
#include "service/device_service.hpp"
#include "udev_rules_writer.hpp"
#include "worker_pool.hpp"

#include <memory>
#include <optional>
#include <string>

namespace sdbus
{
class IConnection;
}

namespace vfiod::daemon
{

class IdleExit;
class ManagerAdaptor;
class SignalFd;
class UeventPump;

/** @brief Where vfiod keeps what it writes, decided from the backend. */
struct ServicePaths
{
    std::string udevRulesDir; ///< generated udev rules ("" none)
    std::string ledgerDir;    ///< the ledger's state directory ("" none)
};

/**
 * @brief Opens a connection to @p address, or to the system bus
 * (DBUS_SYSTEM_BUS_ADDRESS when set) without one. Requests no name.
 * @throws Error(Errc::Failed) naming the bus.
 */
std::unique_ptr<sdbus::IConnection>
    connectBus(const std::optional<std::string>& address);

/**
 * @brief vfiod on the bus: wires the core service, the object tree, the
 * workers, leases and uevents together, and owns the start-up order.
 *
 * Threads: the main thread runs the loop (bus dispatch, objects, leases,
 * uevent reading, signals); the worker pool runs operations and
 * authorization; the core's listeners hand changes to the loop.
 */
class BusService
{
  public:
    BusService(std::optional<std::string> busAddress, ConfigStore& config,
               KernelHost& host, bool verbose, const ServicePaths& paths);
    ~BusService();

    BusService(const BusService&) = delete;
    BusService& operator=(const BusService&) = delete;

    /**
     * @brief Enumerates and exports every device, then takes the name
     * org.vfiod1 and reports READY=1, in that order: a client that sees
     * the name sees every device. Then the policy is applied to each
     * device on its lane, like to a device that appears later.
     * @throws Error(Errc::Busy) when the name is taken,
     *         Error(Errc::AccessDenied) when the bus policy refuses it.
     */
    void start();

    /** @brief Serves until SIGTERM or SIGINT; SIGHUP reloads. */
    void run(SignalFd& signals);

  private:
    void requestName();
    void onSignal(int signal);
    void reloadOnSignal();
    void applyConfig(const DaemonConfig& fresh);
    void applyPolicyToAll();
    void reconcileLedger();
    void startGraces();
    bool needed() const;
    void onDeviceChange(const DeviceChange& change);
    void shutdown();

    std::optional<std::string> busAddress;
    ConfigStore& config;
    KernelHost& host;
    bool verbose;
    const DaemonConfig startConfig;
    std::string backend;

    std::unique_ptr<sdbus::IConnection> connection;
    MainLoop loop;
    DeviceService service;
    DeviceManager& manager; ///< service.registry()
    UdevRulesWriter udevRules;
    Authorizer authorizer;
    LeaseTable leases;
    CallLimits limits;
    /// Device operations, on their lanes; grows when threads are held.
    WorkerPool pool;
    /// The authorization stage (Requests): a few threads, shared fairly
    /// by the callers' lanes.
    WorkerPool authPool;
    Operations operations;
    Requests requests;
    ObjectTree tree;
    std::unique_ptr<ManagerAdaptor> root;
    std::shared_ptr<const Policy> policyInForce;
    std::unique_ptr<UeventPump> uevents;
    std::unique_ptr<IdleExit> idleExit;
    /// Assignments from before the restart, whose grace starts once the
    /// name is owned.
    std::vector<PciAddress> awaitingReattach;
    bool stopped = false;
};

} // namespace vfiod::daemon
