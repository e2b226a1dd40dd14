#include "operations.hpp"

#include "config_store.hpp"
#include "error.hpp"
#include "error_map.hpp"
#include "lease.hpp"
#include "logging.hpp"
#include "udev_rules_writer.hpp"
#include "worker_pool.hpp"

#include <cstdio>

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
        logInfo(reply.description() + " failed: " + error.getName() + ": " +
                error.getMessage());
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
                       ApplyConfig applyConfig) :
    manager(manager),
    enforcer(enforcer), udevRules(udevRules), authorizer(authorizer),
    config(config), leases(leases), applyConfig(std::move(applyConfig))
{}

namespace
{

void logOutcome(const PolicyOutcome& outcome)
{
    for (const std::string& note : outcome.notes)
    {
        logInfo("policy: " + note);
    }
    for (const std::string& failure : outcome.failures)
    {
        logWarning("policy: " + failure);
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
        manager.bind(request.address, options.driver, options.wholeGroup);
        logInfo(request.what + " by " + caller.owner() + ": done");
        reply.succeed();
    });
}

void Operations::unbind(WorkerContext& context, const DeviceRequest& request,
                        PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Bind);
        manager.unbind(request.address);
        logInfo(request.what + " by " + caller.owner() + ": done");
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
        manager.assign(request.address, owner, driver);
        logInfo(request.what + " to " + owner + ": done");
        handOverLease(request.address, owner, reply);
    });
}

void Operations::handOverLease(const PciAddress& address,
                               const std::string& owner,
                               PendingReply<sdbus::UnixFd>& reply)
{
    LeaseEnds ends;
    try
    {
        ends = makeLease();
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

void Operations::release(WorkerContext& context, const DeviceRequest& request,
                         PendingReply<>& reply)
{
    answer(reply, [&] {
        Caller caller = authorizeDevice(context, request, Action::Assign);
        releaseAs(caller, request);
        logInfo(request.what + " by " + caller.owner() + ": done");
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
        manager.reset(request.address,
                      enforcer.resetMethodFor(request.address, method));
        logInfo(request.what + " by " + caller.owner() + ": done");
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
