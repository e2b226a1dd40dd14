#include "operations.hpp"

#include "config_store.hpp"
#include "base/error.hpp"
#include "error_map.hpp"
#include "lease.hpp"
#include "ledger/ledger.hpp"
#include "logging.hpp"
#include "plugin_devices.hpp"
#include "udev_rules_writer.hpp"
#include "worker_pool.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <system_error>

namespace vfiod::daemon
{

namespace
{

std::string hex4(uint16_t value)
{
    char text[8];
    std::snprintf(text, sizeof text, "%04x", value);
    return text;
}

/**
 * Runs @p body; a failure becomes the error reply, logged once here (the
 * boundary) at info level: refusals are the caller's business, not the
 * daemon's, and unexpected errors were logged by currentBusError.
 */
/**
 * The journal fields of a request described as "Bind 0000:03:00.0": the
 * operation, and the device when there is one.
 */
std::vector<LogField> requestFields(const std::string& what)
{
    std::vector<LogField> fields;
    size_t space = what.find(' ');
    fields.push_back({logfield::operation, what.substr(0, space)});
    PciAddress address;
    if (space != std::string::npos &&
        PciAddress::tryParse(what.substr(space + 1), address))
    {
        fields.push_back(addressField(address));
    }
    return fields;
}

/** A request's outcome, with its fields for the journal. */
void logRequest(LogLevel level, const std::string& what,
                const std::string& message, const std::string& error = "")
{
    std::vector<LogField> fields = requestFields(what);
    if (!error.empty())
    {
        fields.push_back({logfield::error, error});
    }
    logStructured(level, message, fields);
}

/** A request that succeeded: "Bind 0000:03:00.0 by :1.42 uid=0: done". */
void logDone(const DeviceRequest& request, const Caller& caller)
{
    logRequest(LogLevel::Info, request.what,
               request.what + " by " + caller.owner() + ": done");
}

template <typename Reply, typename Body>
void answer(Reply& reply, Body&& body)
{
    try
    {
        body();
    }
    catch (...)
    {
        sdbus::Error error = currentBusError(reply.description());
        logRequest(LogLevel::Info, reply.description(),
                   reply.description() + " failed: " + error.getName() + ": " +
                       error.getMessage(),
                   error.getName());
        reply.fail(std::move(error));
    }
}

} // namespace

std::map<std::string, std::string> polkitDetails(const DeviceInfo& info)
{
    const PciDevice& pci = info.pci;
    return {
        {"address", pci.address.str()},
        {"vendor", hex4(pci.vendorId)},
        {"device", hex4(pci.deviceId)},
        {"subsystem_vendor", hex4(pci.subsystemVendorId)},
        {"subsystem_device", hex4(pci.subsystemDeviceId)},
        {"iommu_group", std::to_string(pci.iommuGroup)},
    };
}

std::map<std::string, sdbus::Variant> explainReply(const PolicyReport& report)
{
    const PolicyExplanation& explained = report.explanation;
    const PolicyActions& actions = explained.actions;
    return {
        {"matched", sdbus::Variant(explained.matched)},
        {"rule", sdbus::Variant(explained.rule)},
        {"file", sdbus::Variant(explained.file)},
        {"line", sdbus::Variant(static_cast<uint32_t>(explained.line))},
        {"bind", sdbus::Variant(actions.bind)},
        {"driver", sdbus::Variant(report.driver)},
        {"reset_method", sdbus::Variant(actions.resetMethod)},
        {"plugin", sdbus::Variant(actions.plugin)},
        {"users", sdbus::Variant(actions.users)},
        {"groups", sdbus::Variant(actions.groups)},
        {"on_release",
         sdbus::Variant(std::string(onReleaseName(actions.onRelease)))},
        {"reset_on_release", sdbus::Variant(actions.resetOnRelease)},
        {"plan", sdbus::Variant(report.plan)},
    };
}

Operations::Operations(DeviceManager& manager, PolicyEnforcer& enforcer,
                       UdevRulesWriter& udevRules, const Authorizer& authorizer,
                       ConfigStore& config, LeaseTable& leases,
                       ApplyConfig applyConfig, PluginDevices& plugins,
                       StatusChanged statusChanged, ProgressSink progress) :
    manager(manager),
    enforcer(enforcer), udevRules(udevRules), authorizer(authorizer),
    config(config), leases(leases), applyConfig(std::move(applyConfig)),
    plugins(plugins), statusChanged(std::move(statusChanged)),
    progress(std::move(progress))
{
    // Autobinds go through the device's plugin like a Bind does: its
    // choice of driver and its prepare (mlx5 enables migration first).
    enforcer.bindThrough([this](const PciAddress& address,
                                const std::string& driver, bool wholeGroup) {
        DeviceRequest request{"vfiod", address, "autobind " + address.str()};
        bindWithPlugin(request, driver, wholeGroup);
    });
}

namespace
{

void logOutcome(const PolicyOutcome& outcome)
{
    // Every note starts with the device's address: "policy ADDRESS" gives
    // the journal its fields.
    auto log = [](LogLevel level, const std::string& text, bool failed) {
        std::string what = "policy " + text.substr(0, text.find(": "));
        logRequest(level, what, "policy: " + text, failed ? text : "");
    };
    for (const std::string& note : outcome.notes)
    {
        log(LogLevel::Info, note, false);
    }
    for (const std::string& failure : outcome.failures)
    {
        log(LogLevel::Warning, failure, true);
    }
}

} // namespace

void Operations::explain(const PciAddress& address, ExplainReply& reply)
{
    answer(reply, [&] {
        PolicyReport report = enforcer.explain(address);
        reply.finish([report] { return explainReply(report); });
    });
}

void Operations::applyPolicy(const PciAddress& address)
{
    try
    {
        std::optional<DeviceInfo> info = manager.info(address);
        if (info && info->pci.sriovCapable)
        {
            // A PF appeared: "pf" selectors now have VF addresses.
            udevRules.update(*enforcer.policy());
        }
        logOutcome(enforcer.apply(address));
        // The policy may name the device's plugin.
        if (plugins.refresh(address))
        {
            statusChanged(address);
        }
    }
    catch (const std::exception& e)
    {
        logWarning("policy: " + address.str() + ": " + e.what());
    }
}

void Operations::afterRelease(const PciAddress& address)
{
    try
    {
        logOutcome(enforcer.afterRelease(address));
    }
    catch (const std::exception& e)
    {
        logWarning("policy: after releasing " + address.str() + ": " +
                   e.what());
    }
}

Caller Operations::authorize(WorkerContext& context, const std::string& sender,
                             Action action,
                             const std::map<std::string, std::string>& details,
                             const std::string& what)
{
    try
    {
        Caller caller{sender, lookupCallerUid(context.bus(), sender)};
        AccessConfig assigners;
        if (auto address = details.find("address"); address != details.end())
        {
            assigners =
                enforcer.assignersOf(PciAddress::parse(address->second));
        }
        authorizer.authorize(context.bus(), caller, action, details, what,
                             assigners);
        return caller;
    }
    catch (const Error&)
    {
        // A refusal may come from a broken connection: start afresh next
        // time rather than refuse everybody from now on.
        context.resetBus();
        throw;
    }
    catch (const sdbus::Error& e)
    {
        context.resetBus();
        fail(Errc::AccessDenied,
             what + ": cannot check authorization: " + e.getMessage());
    }
}

Caller Operations::authorizeDevice(WorkerContext& context,
                                   const DeviceRequest& request, Action action)
{
    logDebug(request.what + " from " + request.sender + ": started");
    auto info = manager.info(request.address);
    if (!info)
    {
        fail(Errc::NotFound, request.what + ": no device " +
                                 request.address.str() + " (it was removed)");
    }
    return authorize(context, request.sender, action, polkitDetails(*info),
                     request.what);
}

void Operations::bind(WorkerContext& context, const DeviceRequest& request,
                      const BindOptions& options, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Bind);
        bindWithPlugin(request, options.driver, options.wholeGroup);
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::unbind(WorkerContext& context, const DeviceRequest& request,
                        PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Bind);
        leaveMigration(request);
        manager.unbind(request.address);
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::assign(WorkerContext& context, const DeviceRequest& request,
                        const std::string& driver,
                        PendingReply<sdbus::UnixFd>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Assign);
        std::string owner = caller.owner();
        std::string token = newLeaseToken();
        assignWithPlugin(request, owner, driver, token);
        logRequest(LogLevel::Info, request.what,
                   request.what + " to " + owner + ": done");
        handOverLease(request.address, owner, token, reply);
    });
}

void Operations::handOverLease(const PciAddress& address,
                               const std::string& owner,
                               const std::string& token,
                               PendingReply<sdbus::UnixFd>& reply)
{
    LeaseEnds ends;
    try
    {
        ends = makeLease();
        // The token rides on the lease itself, so the API keeps its
        // signature and only the holder ever sees it.
        std::string line = token + "\n";
        if (::send(ends.daemonEnd.get(), line.data(), line.size(),
                   MSG_DONTWAIT | MSG_NOSIGNAL) !=
            static_cast<ssize_t>(line.size()))
        {
            throw std::system_error(errno, std::generic_category(),
                                    "cannot write the lease token");
        }
    }
    catch (...)
    {
        manager.release(address, owner);
        throw;
    }
    reply.finish([this, address, owner, ends = std::move(ends)]() mutable {
        leases.hold(address, owner, std::move(ends.daemonEnd));
        // Released again before the reply went out: the lease must not
        // outlive the assignment.
        leases.reconcile(address, manager.info(address));
        return sdbus::UnixFd(ends.clientEnd.release(), sdbus::adopt_fd);
    });
}

void Operations::reattach(WorkerContext& context, const DeviceRequest& request,
                          const std::string& token,
                          PendingReply<sdbus::UnixFd>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Assign);
        auto info = manager.info(request.address);
        // The token proves the holder; the uid keeps a leaked token from
        // being of use to another user.
        if (info && !authorizer.isPrivileged(caller.uid) &&
            ownerUid(info->owner) != caller.uid)
        {
            fail(Errc::AccessDenied, request.what + ": assigned to " +
                                         info->owner + ", not to uid " +
                                         std::to_string(caller.uid));
        }
        std::string owner = caller.owner();
        manager.reattach(request.address, token, owner);
        logRequest(LogLevel::Info, request.what,
                   request.what + ": re-attached by " + owner);
        handOverLease(request.address, owner, token, reply);
    });
}

void Operations::release(WorkerContext& context, const DeviceRequest& request,
                         PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Assign);
        plugins.requireNotHeld(request.address, request.what);
        releaseAs(caller, request);
        logDone(request, caller);
        // Replied once the policy's on-release steps are done, so that the
        // caller sees the device where the policy puts it.
        afterRelease(request.address);
        reply.finish([this, address = request.address] {
            leases.reconcile(address, manager.info(address));
        });
    });
}

void Operations::releaseAs(const Caller& caller, const DeviceRequest& request)
{
    if (authorizer.isPrivileged(caller.uid))
    {
        manager.release(request.address, "");
        return;
    }
    // Any connection of the owning user may release (vfioctl release from
    // another shell); other users may not, whatever polkit allows.
    auto info = manager.info(request.address);
    if (info && info->state == DeviceState::Assigned)
    {
        if (ownerUid(info->owner) != caller.uid)
        {
            fail(Errc::Busy,
                 request.what + ": assigned to " + info->owner +
                     "; only that user, root or a user named in [access] "
                     "of vfiod.toml may release it");
        }
        manager.release(request.address, info->owner);
        return;
    }
    manager.release(request.address, caller.owner());
}

void Operations::reset(WorkerContext& context, const DeviceRequest& request,
                       const std::string& method, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Reset);
        resetWithPlugin(request,
                        enforcer.resetMethodFor(request.address, method));
        logDone(request, caller);
        reply.succeed();
    });
}

namespace
{

/** @brief The -errno a plugin's cleanup op is told a failure ended with. */
int errnoOf(const Error& error) noexcept
{
    switch (error.code())
    {
        case Errc::NotFound:
            return -ENODEV;
        case Errc::InvalidArgument:
            return -EINVAL;
        case Errc::Busy:
            return -EBUSY;
        case Errc::NotViable:
            return -EPERM;
        case Errc::NotSupported:
            return -EOPNOTSUPP;
        case Errc::TimedOut:
            return -ETIMEDOUT;
        case Errc::AccessDenied:
            return -EACCES;
        case Errc::Failed:
            break;
    }
    return -EIO;
}

/** @brief A cleanup op that fails is logged: the operation's own outcome
 *  is what the caller gets. */
template <typename Cleanup>
void cleanupQuietly(const PciAddress& address, Cleanup&& cleanup)
{
    try
    {
        cleanup();
    }
    catch (const std::exception& e)
    {
        logWarning("plugin cleanup for " + address.str() + ": " + e.what() +
                   ", ignoring");
    }
}

/// The generic plugin resets as vfiod itself does (sysfs): vfiod keeps its
/// own path for it, which holds the IOMMU group lock.
constexpr std::string_view genericPlugin = "vfio-pci";

} // namespace

void Operations::leaveMigration(const DeviceRequest& request)
{
    plugins.requireNotHeld(request.address, request.what);
    if (plugins.endSession(request.address))
    {
        statusChanged(request.address);
    }
}

void Operations::giveBackAfterPrepare(const PciAddress& address)
{
    // The bind failed after a prepare had taken the device off its driver:
    // the rollback leaves it where the prepare left it, without one.
    auto info = manager.info(address);
    if (!info || !info->pci.driver.empty() || !info->originalDriver)
    {
        return;
    }
    try
    {
        manager.unbind(address);
    }
    catch (const std::exception& e)
    {
        logWarning(address.str() + ": cannot return it to " +
                   *info->originalDriver + " after a failed bind: " + e.what());
    }
}

std::string Operations::bindWithPlugin(const DeviceRequest& request,
                                       const std::string& requested,
                                       bool wholeGroup)
{
    leaveMigration(request);
    std::optional<PluginDevice> plugin = plugins.deviceFor(request.address);
    std::string driver = requested;
    if (plugin && driver.empty())
    {
        driver = plugin->chooseDriver(); // before modules.alias
    }
    // The plugin prepares only a real move: prepare ops may unbind.
    std::string target = manager.chooseVfioDriver(request.address, driver);
    auto info = manager.info(request.address);
    bool moves = plugin && info && info->pci.driver != target;
    if (moves)
    {
        // A prepare may unbind the device itself: its driver is recorded
        // first, or the give-back would not know it.
        manager.rememberOriginalDriver(request.address);
        plugin->prepareBind(target);
    }
    try
    {
        manager.bind(request.address, driver, wholeGroup);
    }
    catch (const Error& e)
    {
        if (moves)
        {
            cleanupQuietly(request.address,
                           [&] { plugin->cleanupBind(target, errnoOf(e)); });
            giveBackAfterPrepare(request.address);
        }
        throw;
    }
    if (moves)
    {
        cleanupQuietly(request.address,
                       [&] { plugin->cleanupBind(target, 0); });
    }
    return target;
}

void Operations::assignWithPlugin(const DeviceRequest& request,
                                  const std::string& owner,
                                  const std::string& requested,
                                  const std::string& token)
{
    leaveMigration(request);
    std::optional<PluginDevice> plugin = plugins.deviceFor(request.address);
    std::string driver = requested;
    if (plugin && driver.empty())
    {
        driver = plugin->chooseDriver();
    }
    auto info = manager.info(request.address);
    if (plugin && info && !isVfioDriver(info->pci.driver))
    {
        // Assign binds first: the bind hooks run around that bind.
        std::string target = manager.chooseVfioDriver(request.address, driver);
        manager.rememberOriginalDriver(request.address);
        plugin->prepareBind(target);
        try
        {
            manager.bind(request.address, driver);
        }
        catch (const Error& e)
        {
            cleanupQuietly(request.address,
                           [&] { plugin->cleanupBind(target, errnoOf(e)); });
            giveBackAfterPrepare(request.address);
            throw;
        }
        cleanupQuietly(request.address,
                       [&] { plugin->cleanupBind(target, 0); });
    }
    if (plugin)
    {
        plugin->prepareAssign();
    }
    try
    {
        manager.assign(request.address, owner, driver, token);
    }
    catch (const Error& e)
    {
        if (plugin)
        {
            cleanupQuietly(request.address,
                           [&] { plugin->cleanupAssign(errnoOf(e)); });
        }
        throw;
    }
    if (plugin)
    {
        cleanupQuietly(request.address, [&] { plugin->cleanupAssign(0); });
    }
}

void Operations::resetWithPlugin(const DeviceRequest& request,
                                 const std::string& method)
{
    leaveMigration(request);
    std::optional<PluginDevice> plugin = plugins.deviceFor(request.address);
    if (!plugin || !plugin->canReset() || plugin->pluginName() == genericPlugin)
    {
        manager.reset(request.address, method);
        return;
    }
    auto info = manager.info(request.address);
    if (info && !method.empty() &&
        std::find(info->pci.resetMethods.begin(), info->pci.resetMethods.end(),
                  method) == info->pci.resetMethods.end())
    {
        fail(Errc::NotSupported, request.what + ": \"" + method +
                                     "\" is not one of the device's reset "
                                     "methods");
    }
    try
    {
        plugin->reset(method);
    }
    catch (const Error& e)
    {
        manager.setLastError(request.address, e.what());
        throw;
    }
    manager.setLastError(request.address, "");
    if (plugins.refresh(request.address))
    {
        statusChanged(request.address);
    }
}

void Operations::afterMigration(const PciAddress& address)
{
    try
    {
        if (plugins.settle(address))
        {
            statusChanged(address);
        }
    }
    catch (const std::exception& e)
    {
        logWarning("migration status of " + address.str() + ": " + e.what() +
                   ", ignoring");
    }
}

namespace
{

/** @brief MigrationProgress at a bounded rate: phase changes at once,
 *  bytes at most every 200 ms. Called from the save and load threads. */
class ProgressThrottle
{
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto interval = std::chrono::milliseconds(200);

    ProgressThrottle(PciAddress address, Operations::ProgressSink sink) :
        address(address), sink(std::move(sink))
    {}

    void operator()(const migration::Progress& progress)
    {
        std::lock_guard lock(mutex);
        Clock::time_point now = Clock::now();
        if (progress.phase == phase && now - last < interval)
        {
            pending = progress.bytes;
            return;
        }
        phase = progress.phase;
        last = now;
        pending.reset();
        sink(address, phase, progress.bytes);
    }

    /** @brief The last bytes held back, so that a client sees the total. */
    void flush()
    {
        std::lock_guard lock(mutex);
        if (pending)
        {
            sink(address, phase, *pending);
            pending.reset();
        }
    }

  private:
    PciAddress address;
    Operations::ProgressSink sink;
    std::mutex mutex;
    std::string phase;
    Clock::time_point last;
    std::optional<uint64_t> pending;
};

/** @brief Holds devices for one migration job (PluginDevices::hold). */
class Hold
{
  public:
    Hold(PluginDevices& plugins, std::vector<PciAddress> addresses,
         const std::string& what) :
        plugins(plugins),
        addresses(std::move(addresses))
    {
        plugins.hold(this->addresses, what);
    }
    ~Hold()
    {
        plugins.unhold(addresses);
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

  private:
    PluginDevices& plugins;
    std::vector<PciAddress> addresses;
};

/** @brief The error a MigrationFailure goes to the bus with: Cancelled for
 *  a cancellation, the mapped code otherwise; the message says where the
 *  device was left. */
sdbus::Error migrationBusError(const std::string& what)
{
    try
    {
        throw;
    }
    catch (const migration::MigrationFailure& e)
    {
        if (e.cancelled())
        {
            return sdbus::Error(std::string(cancelledErrorName),
                                what + ": " + e.what());
        }
        return sdbus::Error(busErrorName(e.code()), what + ": " + e.what());
    }
    catch (...)
    {
        return currentBusError(what);
    }
}

} // namespace

template <typename Body>
void Operations::runMigration(const DeviceRequest& request, MigrationJob& job,
                              const std::vector<PciAddress>& devices,
                              Body&& body)
{
    // Replied once the status is on the bus: a caller that sees the reply
    // sees the state the device ended in.
    std::optional<sdbus::Error> error;
    try
    {
        Hold hold(plugins, devices, request.what);
        if (job.cancel && job.cancel->cancelled())
        {
            std::string state = plugins.status(request.address).migrationState;
            throw migration::MigrationFailure(
                Errc::Failed,
                "cancelled before it started; nothing changed" +
                    (state.empty() ? std::string()
                                   : ": the device is in " + state),
                migration::parseState(state).value_or(
                    migration::State::Running),
                true);
        }
        try
        {
            body();
        }
        catch (...)
        {
            error = migrationBusError(request.what);
        }
        for (const PciAddress& address : devices)
        {
            afterMigration(address);
        }
    }
    catch (...)
    {
        error = migrationBusError(request.what);
    }
    if (job.cancel)
    {
        plugins.unqueue(job.cancel);
    }
    if (error)
    {
        throw *error;
    }
}

void Operations::setMigrationState(
    WorkerContext& context, const DeviceRequest& request,
    const std::string& state, PendingReply<std::vector<std::string>>& reply)
{
    answer(reply, [&] {
        std::optional<migration::State> target = migration::parseState(state);
        if (!target)
        {
            fail(Errc::InvalidArgument,
                 request.what + ": unknown migration state \"" + state +
                     "\" (STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, "
                     "PRE_COPY, PRE_COPY_P2P)");
        }
        Caller caller = authorizeDevice(context, request, Action::Migrate);
        std::vector<std::string> path;
        MigrationJob none;
        runMigration(request, none, {request.address}, [&] {
            migration::MigrationEngine& engine =
                plugins.engine(request.address);
            for (migration::State step : engine.setState(*target))
            {
                path.emplace_back(migration::stateName(step));
            }
        });
        logDone(request, caller);
        reply.succeed(std::move(path));
    });
}

void Operations::saveState(WorkerContext& context, const DeviceRequest& request,
                           MigrationJob& job, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Migrate);
        ProgressThrottle throttle(request.address, progress);
        runMigration(request, job, {request.address}, [&] {
            migration::StreamOptions options;
            options.cancel = job.cancel.get();
            options.progress = std::ref(throttle);
            plugins.engine(request.address).save(job.fd.get(), options);
            job.fd.reset(); // the reader sees the end of the stream now
            throttle.flush();
        });
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::loadState(WorkerContext& context, const DeviceRequest& request,
                           MigrationJob& job, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Migrate);
        ProgressThrottle throttle(request.address, progress);
        runMigration(request, job, {request.address}, [&] {
            migration::StreamOptions options;
            options.cancel = job.cancel.get();
            options.progress = std::ref(throttle);
            plugins.engine(request.address).load(job.fd.get(), options);
            throttle.flush();
        });
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::migrate(WorkerContext& context, const DeviceRequest& request,
                         MigrationJob& job, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Migrate);
        PciAddress target = *job.target;
        DeviceRequest onTarget{request.sender, target, request.what};
        authorizeDevice(context, onTarget, Action::Migrate);
        ProgressThrottle throttle(request.address, progress);
        runMigration(request, job, {request.address, target}, [&] {
            migration::MigrationEngine& source =
                plugins.engine(request.address);
            migration::MigrationEngine& destination = plugins.engine(target);
            migration::StreamOptions options;
            options.cancel = job.cancel.get();
            options.progress = std::ref(throttle);
            migration::migrate(source, destination, options);
            throttle.flush();
        });
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::cancelMigration(WorkerContext& context,
                                 const DeviceRequest& request,
                                 PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Migrate);
        if (plugins.cancel(request.address) == 0)
        {
            fail(Errc::NotFound, request.what +
                                     ": no save, load or migrate is in "
                                     "progress or queued on the device");
        }
        logDone(request, caller);
        reply.succeed();
    });
}

void Operations::reload(WorkerContext& context, const std::string& sender,
                        PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller =
            authorize(context, sender, Action::Manage, {}, "Reload");
        DaemonConfig fresh = config.reload();
        logInfo("configuration " + config.path() + " reloaded by " +
                caller.owner());
        reply.finish([this, fresh] { applyConfig(fresh); });
    });
}

void Operations::releaseExpired(const PciAddress& address,
                                const std::string& owner)
{
    try
    {
        manager.release(address, owner);
        logInfo(address.str() + " released: its holder " + owner +
                " closed the lease");
        afterRelease(address);
    }
    catch (const std::exception& e)
    {
        // Already released, re-assigned or removed meanwhile.
        logDebug("releasing " + address.str() +
                 " after its lease closed: " + e.what() + ", ignoring");
    }
}

void Operations::applyUevents(const std::vector<Uevent>& events)
{
    for (const Uevent& event : events)
    {
        try
        {
            manager.handleUevent(event);
        }
        catch (const std::exception& e)
        {
            logWarning("uevent " + event.action + " " + event.sysname + ": " +
                       e.what() + ", ignoring");
        }
    }
}

} // namespace vfiod::daemon
