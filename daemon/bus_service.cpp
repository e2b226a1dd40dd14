#include "config.h"

#include "bus_service.hpp"

#include "base/error.hpp"
#include "idle_exit.hpp"
#include "logging.hpp"
#include "manager_adaptor.hpp"
#include "service_notify.hpp"
#include "signals.hpp"
#include "uevent_pump.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <signal.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace vfiod::daemon
{

namespace
{

constexpr auto busName = "org.vfiod1";

/// Operations mostly wait for the kernel, not the CPU: more threads than
/// cores, so that a few slow devices do not hold up the rest.
unsigned workerCount()
{
    return std::clamp(2 * std::thread::hardware_concurrency(), 4u, 16u);
}

/// Authorization waits for the bus driver and polkit: a few threads do,
/// one lane per caller connection and per uid (Requests).
constexpr unsigned authorizationThreads = 4;

/** Settings read once at start-up that a reload changed. */
std::vector<std::string> needRestart(const DaemonConfig& before,
                                     const DaemonConfig& after)
{
    std::vector<std::string> changed;
    auto check = [&](const char* name, const auto& a, const auto& b) {
        if (a != b)
        {
            changed.emplace_back(name);
        }
    };
    check("daemon.state_dir", before.stateDir, after.stateDir);
    check("daemon.plugin_dir", before.pluginDir, after.pluginDir);
    check("roots.udev_rules", before.udevRulesDir, after.udevRulesDir);
    check("roots.sysfs", before.roots.sysfs, after.roots.sysfs);
    check("roots.dev", before.roots.dev, after.roots.dev);
    check("roots.modules", before.roots.modules, after.roots.modules);
    check("roots.modprobe", before.roots.modprobe, after.roots.modprobe);
    check("timeouts.unbind_ms", before.timeouts.unbind, after.timeouts.unbind);
    check("timeouts.probe_ms", before.timeouts.probe, after.timeouts.probe);
    check("timeouts.dev_node_ms", before.timeouts.devNode,
          after.timeouts.devNode);
    check("timeouts.reset_ms", before.timeouts.reset, after.timeouts.reset);
    check("timeouts.group_wait_ms", before.groupWait, after.groupWait);
    check("timeouts.plugin_op_ms", before.pluginOp, after.pluginOp);
    check("timeouts.lease_grace_ms", before.leaseGrace, after.leaseGrace);
    check("timeouts.idle_exit_ms", before.idleExit, after.idleExit);
    check("limits.max_calls_per_caller", before.limits.maxCallsPerCaller,
          after.limits.maxCallsPerCaller);
    check("limits.max_queued_per_device", before.limits.maxQueuedPerDevice,
          after.limits.maxQueuedPerDevice);
    check("limits.max_workers", before.limits.maxWorkers,
          after.limits.maxWorkers);
    return changed;
}

/**
 * The plugin host's settings: the configured directory (or the built-in
 * one), the op timeout, and the helper programs plugins may run. A
 * simulated host gets no helpers: a plugin's devlink must never reach the
 * real machine's devices.
 */
PluginHostConfig pluginHostConfig(const DaemonConfig& config,
                                  const std::string& backend)
{
    PluginHostConfig plugins;
    plugins.directory = config.pluginDir.empty() ? std::string(VFIOD_PLUGINDIR)
                                                 : config.pluginDir;
    plugins.opTimeout = config.pluginOp;
    if (backend != "sim")
    {
        for (const char* devlink : {"/usr/sbin/devlink", "/sbin/devlink"})
        {
            if (::access(devlink, X_OK) == 0)
            {
                plugins.helpers["devlink"] = devlink;
                break;
            }
        }
    }
    plugins.log = [](int level, const std::string& message) {
        LogLevel mapped = level <= LOG_ERR       ? LogLevel::Error
                          : level == LOG_WARNING ? LogLevel::Warning
                          : level <= LOG_INFO    ? LogLevel::Info
                                                 : LogLevel::Debug;
        logMessage(mapped, message);
    };
    return plugins;
}

std::string policySummary(const Policy& policy, const std::string& dir)
{
    return "policy: " + std::to_string(policy.rules.size()) + " rules from " +
           std::to_string(policy.files.size()) + " files in " + dir;
}

std::string status(size_t devices)
{
    return "Serving " + std::to_string(devices) + " PCI devices as " + busName;
}

} // namespace

std::unique_ptr<sdbus::IConnection>
    connectBus(const std::optional<std::string>& address)
{
    try
    {
        if (address)
        {
            // Despite its name this only sets the address: the connection
            // is a plain bus client of whatever bus listens there.
            return sdbus::createSessionBusConnectionWithAddress(*address);
        }
        return sdbus::createSystemBusConnection();
    }
    catch (const sdbus::Error& e)
    {
        fail(Errc::Failed, "cannot connect to " +
                               (address ? "the bus at " + *address
                                        : std::string("the system bus")) +
                               ": " + e.getMessage());
    }
}

BusService::BusService(std::optional<std::string> busAddress,
                       ConfigStore& config, KernelHost& host, bool verbose,
                       const ServicePaths& paths) :
    busAddress(std::move(busAddress)),
    config(config), host(host), verbose(verbose), startConfig(config.current()),
    backend(host.backend()), connection(connectBus(this->busAddress)),
    loop(*connection),
    service(host,
            ServiceOptions{managerOptions(startConfig),
                           pluginHostConfig(startConfig, backend),
                           paths.ledgerDir},
            logNotice),
    manager(service.registry()), udevRules(manager, paths.udevRulesDir),
    authorizer([&config] { return config.access(); }),
    leases(loop,
           [this](const PciAddress& address, const std::string& owner) {
               requests.leaseExpired(address, owner);
           }),
    // A pending call with a descriptor holds two: the message's and
    // vfiod's own copy. Half the limit stays for the rest.
    limits(startConfig.limits, raiseDescriptorLimit() / 4),
    pool(std::min(workerCount(), startConfig.limits.maxWorkers),
         startConfig.limits.maxWorkers,
         [this] { return connectBus(this->busAddress); }),
    authPool(authorizationThreads, authorizationThreads,
             [this] { return connectBus(this->busAddress); }),
    operations(
        service, udevRules, authorizer, config, leases,
        [this](const DaemonConfig& fresh) { applyConfig(fresh); },
        [this](const PciAddress& address, const std::string& phase,
               uint64_t bytes) {
            loop.post([this, address, phase, bytes] {
                tree.progress(address, phase, bytes);
            });
        }),
    requests(loop, pool, authPool, limits, operations, service),
    tree(*connection, manager, service.plugins(), requests)
{
    manager.subscribe(
        [this](const DeviceChange& change) { onDeviceChange(change); });
    service.onStatusChange([this](const PciAddress& address) {
        onDeviceChange({DeviceChange::Kind::Changed, address});
    });
}

BusService::~BusService()
{
    shutdown();
}

void BusService::onDeviceChange(const DeviceChange& change)
{
    // The core service chose the device's plugin before this listener
    // ran: a device object is complete when it appears. Called from whichever
    // thread changed the device: objects are only touched on the loop.
    loop.post([this, change] {
        size_t before = tree.size();
        tree.apply(change);
        leases.reconcile(change.address, manager.info(change.address));
        if (tree.size() != before)
        {
            notifyStatus(status(tree.size()));
        }
    });
}

void BusService::start()
{
    // The object manager first: device objects announce themselves to it.
    root = std::make_unique<ManagerAdaptor>(
        *connection, tree, requests, udevRules, backend, service.plugins());
    policyInForce = config.policy();
    service.setPolicy(policyInForce);

    // Subscribe to uevents before reading the devices, so that nothing
    // that happens in between is missed.
    auto source = host.openUevents();
    for (const auto& [address, why] : manager.enumerate())
    {
        logWarning("cannot read " + address.str() + ": " + why + ", ignoring");
    }
    reconcileLedger();
    loop.runPending();
    tree.exportAll();
    uevents = std::make_unique<UeventPump>(
        loop, std::move(source), [this](std::vector<Uevent> events) {
            requests.uevents(std::move(events));
        });

    udevRules.update(*policyInForce);

    requestName();
    tree.announceChanges();
    startGraces();
    logInfo(backend + " backend: " + status(tree.size()));
    logInfo(policySummary(*policyInForce, config.policyDir()));
    notifyReady(status(tree.size()));
    applyPolicyToAll();
}

void BusService::reconcileLedger()
{
    if (!service.keepsLedger())
    {
        return;
    }
    ReconcileReport report = manager.reconcile();
    for (const std::string& note : report.notes)
    {
        logInfo("ledger: " + note);
    }
    for (const std::string& problem : report.problems)
    {
        logWarning("ledger: " + problem);
    }
    awaitingReattach = report.assigned;
}

void BusService::startGraces()
{
    // From the moment holders can reach vfiod, not from the reconciliation:
    // a slow start must not eat their grace.
    for (const PciAddress& address : awaitingReattach)
    {
        std::optional<DeviceInfo> info = manager.info(address);
        if (info && info->state == DeviceState::Assigned)
        {
            leases.awaitReattach(address, info->owner, startConfig.leaseGrace);
        }
    }
    awaitingReattach.clear();
}

void BusService::applyPolicyToAll()
{
    for (const PciAddress& address : manager.addresses())
    {
        requests.applyPolicy(address);
    }
}

void BusService::requestName()
{
    try
    {
        connection->requestName(busName);
    }
    catch (const sdbus::Error& e)
    {
        const std::string& name = e.getName();
        if (name == "org.freedesktop.DBus.Error.AccessDenied" ||
            name == "System.Error.EACCES" || name == "System.Error.EPERM")
        {
            fail(Errc::AccessDenied,
                 std::string("the bus does not let this user own ") + busName +
                     ": run vfiod as root, or install its bus policy "
                     "(org.vfiod1.conf) into the bus configuration");
        }
        if (name == "org.freedesktop.DBus.Error.FileExists" ||
            name == "System.Error.EEXIST" || name == "System.Error.EALREADY")
        {
            fail(Errc::Busy, std::string(busName) +
                                 " is already owned on this bus: another "
                                 "vfiod is running");
        }
        throw;
    }
}

bool BusService::needed() const
{
    if (!leases.empty())
    {
        logDebug("idle check: leases held or awaited");
        return true;
    }
    for (const PciAddress& address : manager.addresses())
    {
        std::optional<DeviceInfo> info = manager.info(address);
        if (info && (info->originalDriver || !info->owner.empty()))
        {
            logDebug("idle check: " + address.str() + " is managed");
            return true;
        }
    }
    return false;
}

void BusService::run(SignalFd& signals)
{
    idleExit = std::make_unique<IdleExit>(
        loop, startConfig.idleExit, [this] { return needed(); },
        [this] {
            logInfo("idle for " + std::to_string(startConfig.idleExit.count()) +
                    " ms with no lease and no managed device: exiting");
            notifyStopping();
            loop.quit();
        });
    loop.watch(signals.fd(), [this, &signals](short) {
        while (auto signal = signals.next())
        {
            onSignal(*signal);
        }
    });
    loop.run();
    idleExit.reset();
    loop.unwatch(signals.fd());
    shutdown();
    // Only here, at a normal end: a run that dies, or fails to start, is
    // not one the quarantine counts down on.
    service.plugins().endCleanRun();
}

void BusService::onSignal(int signal)
{
    if (signal == SIGHUP)
    {
        reloadOnSignal();
        return;
    }
    logInfo(std::string("received ") + strsignal(signal) + ", shutting down");
    notifyStopping();
    loop.quit();
}

void BusService::reloadOnSignal()
{
    notifyReloading();
    try
    {
        applyConfig(config.reload());
        logInfo("configuration " + config.path() + " reloaded (SIGHUP)");
    }
    catch (const std::exception& e)
    {
        logError(std::string("reload failed, keeping the configuration in "
                             "force: ") +
                 e.what());
    }
    notifyReady(status(tree.size()));
}

void BusService::applyConfig(const DaemonConfig& fresh)
{
    setLogLevel(verbose ? LogLevel::Debug : fresh.logLevel);
    // A Reload is how an administrator says a plugin was fixed: its
    // quarantine is lifted, and it is loaded at the next start.
    if (service.plugins().liftQuarantine())
    {
        loop.post([this] {
            if (root)
            {
                root->quarantineChanged();
            }
        });
    }
    std::shared_ptr<const Policy> policy = config.policy();
    if (policy != policyInForce)
    {
        // Devices already on vfio stay there: a reload never takes a
        // device from a guest or a user; it binds what the new policy
        // marks and changes what happens from now on.
        policyInForce = policy;
        service.setPolicy(policy);
        udevRules.update(*policy);
        logInfo(policySummary(*policy, config.policyDir()));
        applyPolicyToAll();
    }
    auto pending = needRestart(startConfig, fresh);
    if (!pending.empty())
    {
        std::string names;
        for (const std::string& name : pending)
        {
            names += (names.empty() ? "" : ", ") + name;
        }
        logWarning("changed settings take effect at the next start: " + names);
    }
}

void BusService::shutdown()
{
    if (stopped)
    {
        return;
    }
    stopped = true;
    uevents.reset();
    // Running operations finish; queued ones are answered Failed. Their
    // replies, and the changes they made, are sent before the objects go.
    // Authorization first: what it lets through goes to the pool. A stream
    // waiting for its client ends at migration_idle_ms at the latest.
    authPool.stop();
    pool.stop();
    try
    {
        loop.runPending();
    }
    catch (const std::exception& e)
    {
        // The bus went away: nobody is left to answer.
        logWarning(std::string("cannot send the last replies: ") + e.what() +
                   ", ignoring");
    }
    root.reset();
    tree.clear();
}

} // namespace vfiod::daemon
