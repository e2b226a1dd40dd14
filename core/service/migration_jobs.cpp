// The migration operations of DeviceService: SetMigrationState and the
// three stream jobs (save, load, migrate), which share one body.
//
// They hold the device (PluginDevices::hold), not its IOMMU group: a stream
// lasts as long as its client feeds it, and holding the group for that long
// would turn every request on a sibling into a wait for the group; a held
// device refuses other requests at once with Busy instead.
#include "base/text_escape.hpp"
#include "service/device_service.hpp"

namespace vfiod
{

namespace
{

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

migration::StreamOptions streamOptions(const MigrationJob& job)
{
    migration::StreamOptions options;
    options.cancel = job.cancel.get();
    options.progress = job.progress;
    options.clientFd = job.fd ? job.fd.get() : -1;
    options.idleTimeout = job.idleTimeout;
    return options;
}

} // namespace

void DeviceService::afterMigration(const PciAddress& address)
{
    try
    {
        if (pluginDevices.settle(address))
        {
            statusChanged(address);
        }
    }
    catch (const std::exception& e)
    {
        notices(NoticeLevel::Warning, "migration status of " + address.str() +
                                          ": " + e.what() + ", ignoring");
    }
}

template <typename Body>
void DeviceService::runStream(const Request& request, MigrationJob& job,
                              const std::vector<PciAddress>& devices,
                              Body&& body)
{
    // The status is settled before the caller hears the outcome: a caller
    // that sees the reply sees the state the device ended in.
    std::exception_ptr error;
    try
    {
        for (const PciAddress& address : devices)
        {
            stuck->requireNotStuck(address);
        }
        Hold hold(pluginDevices, devices, request.what);
        if (job.cancel && job.cancel->cancelled())
        {
            std::string state =
                pluginDevices.status(request.address).migrationState;
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
            error = std::current_exception();
        }
        for (const PciAddress& address : devices)
        {
            afterMigration(address);
        }
    }
    catch (...)
    {
        error = std::current_exception();
    }
    if (job.cancel)
    {
        pluginDevices.unqueue(job.cancel);
    }
    if (error)
    {
        std::rethrow_exception(error);
    }
}

std::vector<std::string>
    DeviceService::setMigrationState(const Request& request,
                                     const std::string& state)
{
    std::optional<migration::State> target = migration::parseState(state);
    if (!target)
    {
        fail(Errc::InvalidArgument,
             request.what + ": unknown migration state " +
                 text::quotedArgument(state) +
                 " (STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, "
                 "PRE_COPY, PRE_COPY_P2P)");
    }
    std::vector<std::string> path;
    MigrationJob none;
    runStream(request, none, {request.address}, [&] {
        migration::MigrationEngine& engine =
            pluginDevices.engine(request.address);
        for (migration::State step : engine.setState(*target))
        {
            path.emplace_back(migration::stateName(step));
        }
    });
    return path;
}

std::shared_ptr<migration::CancelToken>
    DeviceService::queueMigration(const std::vector<PciAddress>& devices)
{
    return pluginDevices.queue(devices);
}

void DeviceService::unqueueMigration(
    const std::shared_ptr<migration::CancelToken>& token)
{
    pluginDevices.unqueue(token);
}

void DeviceService::saveState(const Request& request, MigrationJob& job)
{
    runStream(request, job, {request.address}, [&] {
        pluginDevices.engine(request.address)
            .save(job.fd.get(), streamOptions(job));
        job.fd.reset(); // the reader sees the end of the stream now
    });
}

void DeviceService::loadState(const Request& request, MigrationJob& job)
{
    runStream(request, job, {request.address}, [&] {
        pluginDevices.engine(request.address)
            .load(job.fd.get(), streamOptions(job));
    });
}

void DeviceService::migrate(const Request& request, MigrationJob& job)
{
    PciAddress target = job.target.value_or(request.address);
    runStream(request, job, {request.address, target}, [&] {
        migration::migrate(pluginDevices.engine(request.address),
                           pluginDevices.engine(target), streamOptions(job));
    });
}

void DeviceService::cancelMigration(const Request& request)
{
    if (pluginDevices.cancel(request.address) == 0)
    {
        fail(Errc::NotFound, request.what +
                                 ": no save, load or migrate is in progress "
                                 "or queued on the device");
    }
}

} // namespace vfiod
