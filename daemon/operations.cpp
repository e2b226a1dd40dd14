#include "operations.hpp"

#include "authz_table.hpp"
#include "config_store.hpp"
#include "lease.hpp"
#include "request_log.hpp"
#include "udev_rules_writer.hpp"
#include "worker_pool.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
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
 * The bus could not carry the authorization round trip. When the bus
 * itself was out of its limits the caller may simply try again, whoever
 * it is: that is LimitsExceeded, not a refusal.
 */
[[noreturn]] void failAuthorization(const sdbus::Error& e,
                                    const std::string& what)
{
    if (e.getName() == "org.freedesktop.DBus.Error.LimitsExceeded")
    {
        fail(Errc::LimitsExceeded,
             what + ": the bus is out of its limits, try again: " +
                 e.getMessage());
    }
    fail(Errc::AccessDenied,
         what + ": cannot check authorization: " + e.getMessage());
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

Operations::Operations(DeviceService& service, UdevRulesWriter& udevRules,
                       const Authorizer& authorizer, ConfigStore& config,
                       LeaseTable& leases, ApplyConfig applyConfig,
                       ProgressSink progress) :
    service(service),
    udevRules(udevRules), authorizer(authorizer), config(config),
    leases(leases), applyConfig(std::move(applyConfig)),
    progress(std::move(progress))
{}

namespace
{

/** @brief A round trip of @p context's connection (the bus driver, polkit). */
template <typename Ask>
auto askOnWorkerBus(WorkerContext& context, const std::string& what, Ask&& ask)
{
    try
    {
        return ask();
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
        failAuthorization(e, what);
    }
}

} // namespace

Caller Operations::identify(WorkerContext& context, const std::string& sender,
                            const std::string& what)
{
    return askOnWorkerBus(context, what, [&] {
        return Caller{sender, lookupCallerUid(context.bus(), sender)};
    });
}

void Operations::check(WorkerContext& context, const Caller& caller,
                       const std::string& method,
                       const std::map<std::string, std::string>& details,
                       const std::string& what)
{
    std::optional<Action> action = actionFor(method);
    if (!action)
    {
        return;
    }
    askOnWorkerBus(context, what, [&] {
        AccessConfig assigners;
        if (auto address = details.find("address"); address != details.end())
        {
            assigners = service.policy().assignersOf(
                PciAddress::parse(address->second));
        }
        authorizer.authorize(context.bus(), caller, *action, details, what,
                             assigners);
    });
}

Caller Operations::authorize(WorkerContext& context, const std::string& sender,
                             const std::string& method,
                             const std::map<std::string, std::string>& details,
                             const std::string& what)
{
    Caller caller = identify(context, sender, what);
    check(context, caller, method, details, what);
    return caller;
}

bool Operations::isPrivileged(const Caller& caller) const
{
    return authorizer.isPrivileged(caller.uid);
}

void Operations::authorizeCall(WorkerContext& context,
                               const DeviceRequest& request,
                               const std::optional<PciAddress>& target)
{
    std::vector<PciAddress> devices{request.address};
    if (target)
    {
        devices.push_back(*target);
    }
    for (const PciAddress& address : devices)
    {
        auto info = service.registry().info(address);
        if (!info)
        {
            fail(Errc::NotFound, request.what + ": no device " + address.str() +
                                     " (it was removed)");
        }
        check(context, request.authorized.value(), request.method,
              polkitDetails(*info), request.what);
    }
}

Caller Operations::authorizeDevice(WorkerContext& context,
                                   const DeviceRequest& request)
{
    logDebug(request.what + " from " + request.sender + ": started");
    auto info = service.registry().info(request.address);
    if (!info)
    {
        fail(Errc::NotFound, request.what + ": no device " +
                                 request.address.str() + " (it was removed)");
    }
    std::map<std::string, std::string> details = polkitDetails(*info);
    Caller caller = request.authorized
                        ? *request.authorized
                        : authorize(context, request.sender, request.method,
                                    details, request.what);
    if (request.force)
    {
        // Taking a device from under a process that holds it is the
        // administrator's call, and the log keeps who made it.
        authorizer.authorize(context.bus(), caller, Action::Manage, details,
                             request.what + " with force");
        logRequest(LogLevel::Warning, request.what,
                   request.what + " from " + caller.owner() +
                       ": force, the in-use check is skipped");
    }
    return caller;
}

void Operations::bind(WorkerContext& context, const DeviceRequest& request,
                      const BindOptions& options, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        service.bind(request, options.driver, options.wholeGroup);
        logDone(request.what, caller);
        reply.succeed();
    });
}

void Operations::unbind(WorkerContext& context, const DeviceRequest& request,
                        PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        service.unbind(request);
        logDone(request.what, caller);
        reply.succeed();
    });
}

void Operations::assign(WorkerContext& context, const DeviceRequest& request,
                        const std::string& driver,
                        PendingReply<sdbus::UnixFd>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        std::string owner = caller.owner();
        std::string token = newLeaseToken();
        service.assign(request, owner, driver, token);
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
        service.registry().release(address, owner);
        throw;
    }
    reply.finish([this, address, owner, ends = std::move(ends)]() mutable {
        leases.hold(address, owner, std::move(ends.daemonEnd));
        // Released again before the reply went out: the lease must not
        // outlive the assignment.
        leases.reconcile(address, service.registry().info(address));
        return sdbus::UnixFd(ends.clientEnd.release(), sdbus::adopt_fd);
    });
}

void Operations::reattach(WorkerContext& context, const DeviceRequest& request,
                          const std::string& token,
                          PendingReply<sdbus::UnixFd>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        auto info = service.registry().info(request.address);
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
        service.reattach(request, token, owner);
        logRequest(LogLevel::Info, request.what,
                   request.what + ": re-attached by " + owner);
        handOverLease(request.address, owner, token, reply);
    });
}

std::string Operations::releasingOwner(const Caller& caller,
                                       const DeviceRequest& request)
{
    if (authorizer.isPrivileged(caller.uid))
    {
        return ""; // anyone's
    }
    // Any connection of the owning user may release (vfioctl release from
    // another shell); other users may not, whatever polkit allows.
    auto info = service.registry().info(request.address);
    if (info && info->state == DeviceState::Assigned)
    {
        if (ownerUid(info->owner) != caller.uid)
        {
            fail(Errc::Busy,
                 request.what + ": assigned to " + info->owner +
                     "; only that user, root or a user named in [access] "
                     "of vfiod.toml may release it");
        }
        return info->owner;
    }
    return caller.owner();
}

void Operations::requireOwnerOrRoot(const Caller& caller,
                                    const DeviceRequest& request) const
{
    std::optional<DeviceInfo> info = service.registry().info(request.address);
    if (caller.uid == 0 || !info || info->state != DeviceState::Assigned ||
        ownerUid(info->owner) == caller.uid)
    {
        return;
    }
    // [access] lets a user manage devices, not take over another user's
    // guest: its device state is the owner's.
    fail(Errc::Busy, request.what + ": assigned to " + info->owner +
                         "; only that user or root may change it");
}

void Operations::release(WorkerContext& context, const DeviceRequest& request,
                         PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        PolicyOutcome onRelease =
            service.release(request, releasingOwner(caller, request));
        logDone(request.what, caller);
        logOutcome(onRelease);
        // Replied once the policy's on-release steps are done, so that the
        // caller sees the device where the policy puts it.
        reply.finish([this, address = request.address] {
            leases.reconcile(address, service.registry().info(address));
        });
    });
}

void Operations::reset(WorkerContext& context, const DeviceRequest& request,
                       const std::string& method, PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request);
        requireOwnerOrRoot(caller, request);
        service.reset(request, method);
        logDone(request.what, caller);
        reply.succeed();
    });
}

void Operations::reload(WorkerContext& context, const std::string& sender,
                        PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorize(context, sender, "Reload", {}, "Reload");
        DaemonConfig fresh = config.reload();
        logInfo("configuration " + config.path() + " reloaded by " +
                caller.owner());
        reply.finish([this, fresh] { applyConfig(fresh); });
    });
}

void Operations::explain(const PciAddress& address, ExplainReply& reply)
{
    answer(reply, [&] {
        PolicyReport report = service.explain(address);
        reply.finish([report] { return explainReply(report); });
    });
}

void Operations::applyPolicy(const PciAddress& address)
{
    try
    {
        std::optional<DeviceInfo> info = service.registry().info(address);
        if (info && info->pci.sriovCapable)
        {
            // A PF appeared: "pf" selectors now have VF addresses.
            udevRules.update(*service.policy().policy());
        }
        logOutcome(service.applyPolicy(address));
    }
    catch (const std::exception& e)
    {
        logWarning("policy: " + address.str() + ": " + e.what());
    }
}

void Operations::releaseExpired(const PciAddress& address,
                                const std::string& owner)
{
    PolicyOutcome onRelease;
    try
    {
        onRelease = service.releaseClosedLease(address, owner);
    }
    catch (const std::exception& e)
    {
        // Already released, re-assigned or removed meanwhile.
        logDebug("releasing " + address.str() +
                 " after its lease closed: " + e.what() + ", ignoring");
        return;
    }
    logInfo(address.str() + " released: its holder " + owner +
            " closed the lease");
    logOutcome(onRelease);
}

} // namespace vfiod::daemon
