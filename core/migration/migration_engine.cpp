#include "migration/migration_engine.hpp"

#include "plugin/plugin_host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>

namespace vfiod::migration
{

namespace
{

/// QEMU's buffer: at most 1 MiB, at most the announced stop-copy size.
constexpr size_t maxChunk = size_t{1} << 20;
constexpr size_t minChunk = 4096;

std::string name(State state)
{
    return std::string(stateName(state));
}

void report(const StreamOptions& options, const char* phase, uint64_t bytes)
{
    if (options.progress)
    {
        options.progress(Progress{phase, bytes});
    }
}

} // namespace

MigrationEngine::MigrationEngine(PluginDevice& device) : device(device) {}

Flags MigrationEngine::flags()
{
    if (!cachedFlags)
    {
        if (!device.canMigrate())
        {
            fail(Errc::NotSupported, "plugin " + device.pluginName() +
                                         " cannot migrate " +
                                         device.device().address.str());
        }
        cachedFlags = device.migrationFlags();
        if (!flagsValid(*cachedFlags))
        {
            Flags bad = *cachedFlags;
            cachedFlags.reset();
            fail(Errc::NotSupported, device.device().address.str() +
                                         " has no usable migration "
                                         "(flags " +
                                         std::to_string(bad) + ")");
        }
    }
    return *cachedFlags;
}

State MigrationEngine::state()
{
    if (device.canGetState())
    {
        current = device.migrationState();
    }
    return current;
}

UniqueFd MigrationEngine::step(State next)
{
    UniqueFd fd = device.setMigrationArc(next);
    current = next;
    return fd;
}

std::vector<State> MigrationEngine::walkTo(State target, UniqueFd* dataFd)
{
    Flags f = flags();
    std::vector<State> path = walk(state(), target, f); // refusal: no change
    for (State next : path)
    {
        try
        {
            UniqueFd fd = step(next);
            if (fd && dataFd != nullptr)
            {
                *dataFd = std::move(fd);
            }
        }
        catch (const Error& e)
        {
            failAndRecover(e, false);
        }
    }
    return path;
}

std::vector<State> MigrationEngine::setState(State target)
{
    return walkTo(target, nullptr);
}

State MigrationEngine::recover()
{
    // As QEMU: back to RUNNING along the state machine first...
    try
    {
        State at = state();
        if (at != State::Error)
        {
            for (State next : walk(at, State::Running, flags()))
            {
                step(next);
            }
            return current;
        }
    }
    catch (const Error&)
    {
        // ...and when that fails too, or the device is in ERROR, a reset,
        // which puts a VFIO device back in RUNNING.
    }
    try
    {
        device.reset("");
        current = State::Running;
        return state();
    }
    catch (const Error&)
    {
        // Nothing more to try: report what is known.
    }
    try
    {
        return state();
    }
    catch (const Error&)
    {
        return current;
    }
}

void MigrationEngine::failAndRecover(const Error& cause, bool cancelled)
{
    // Where the failure left it (a driver may have moved it to ERROR or
    // an intermediate state), then where recovery brought it.
    State failedIn = current;
    try
    {
        failedIn = state();
    }
    catch (const Error&)
    {
        // Unknown: the last state an arc reached.
    }
    State left = recover();
    std::string message =
        std::string(cause.what()) + "; the device was in " + name(failedIn);
    message += left == State::Running
                   ? " and is back in RUNNING"
                   : " and could not be recovered: it is in " + name(left);
    throw MigrationFailure(cause.code(), message, left, cancelled);
}

void MigrationEngine::failStream(const std::exception& cause)
{
    failAndRecover(Error(Errc::Failed, "migration data of " +
                                           device.device().address.str() +
                                           ": " + cause.what()),
                   false);
}

CopyResult MigrationEngine::copy(int in, int out, size_t chunk,
                                 const StreamOptions& options,
                                 const std::function<void(uint64_t)>& onChunk,
                                 UniqueFd* closeFirst)
{
    ClientEnd client;
    if (options.clientFd >= 0 &&
        (options.clientFd == in || options.clientFd == out))
    {
        client = ClientEnd{options.clientFd, options.idleTimeout};
    }
    try
    {
        return copyStream(in, out, chunk, options.cancel, onChunk, client);
    }
    catch (const std::system_error& e)
    {
        if (closeFirst != nullptr)
        {
            closeFirst->reset();
        }
        failStream(e);
    }
    catch (const Error& e)
    {
        if (closeFirst != nullptr)
        {
            closeFirst->reset();
        }
        // The client stopped moving data: walked back like a failed read.
        failAndRecover(Error(e.code(), "migration data of " +
                                           device.device().address.str() +
                                           ": " + e.what()),
                       false);
    }
}

size_t MigrationEngine::chunkSize()
{
    try
    {
        uint64_t size = device.migrationDataSize();
        return static_cast<size_t>(
            std::clamp<uint64_t>(size, minChunk, maxChunk));
    }
    catch (const Error&)
    {
        return maxChunk; // MIG_DATA_SIZE is optional (kernels before 6.2)
    }
}

void MigrationEngine::precopyRounds(int dataFd, int sinkFd,
                                    const StreamOptions& options,
                                    uint64_t& total)
{
    size_t chunk = chunkSize();
    auto onChunk = [&](uint64_t n) {
        total += n;
        report(options, "pre-copy", total);
    };
    for (unsigned round = 0; round < options.maxPrecopyRounds; ++round)
    {
        PrecopyInfo info;
        try
        {
            info = device.precopyInfo(dataFd);
        }
        catch (const Error& e)
        {
            failAndRecover(e, false);
        }
        if (info.initialBytes == 0 && info.dirtyBytes == 0 && round > 0)
        {
            return; // converged: the rest goes in stop-copy
        }
        // Ends at ENOMSG (the kernel's "nothing more for now"); a plain
        // file (the simulated device) ends the round with 0 instead.
        CopyResult copied = copy(dataFd, sinkFd, chunk, options, onChunk);
        if (copied.end == CopyEnd::Cancelled)
        {
            failAndRecover(Error(Errc::Failed, "save cancelled"), true);
        }
        if (copied.bytes == 0)
        {
            return;
        }
    }
}

void MigrationEngine::save(int sinkFd, const StreamOptions& options)
{
    Flags f = flags();
    State at = state();
    uint64_t total = 0;
    UniqueFd data;
    if ((f & PreCopyFlag) != 0 &&
        (at == State::Running || at == State::RunningP2P))
    {
        walkTo(at == State::Running ? State::PreCopy : State::PreCopyP2P,
               &data);
        if (data)
        {
            precopyRounds(data.get(), sinkFd, options, total);
        }
    }
    // From PRE_COPY(_P2P) the stream goes on in the same fd; from
    // anywhere else STOP -> STOP_COPY opens it.
    walkTo(State::StopCopy, &data);
    if (!data)
    {
        failAndRecover(Error(Errc::Failed, "plugin " + device.pluginName() +
                                               " gave no data fd for " +
                                               device.device().address.str()),
                       false);
    }
    report(options, "stop-copy", total);
    CopyResult copied =
        copy(data.get(), sinkFd, chunkSize(), options, [&](uint64_t n) {
            total += n;
            report(options, "stop-copy", total);
        });
    if (copied.end == CopyEnd::Cancelled)
    {
        failAndRecover(Error(Errc::Failed, "save cancelled"), true);
    }
    data.reset();
    walkTo(State::Stop, nullptr);
}

void MigrationEngine::load(int sourceFd, const StreamOptions& options)
{
    UniqueFd data;
    walkTo(State::Resuming, &data);
    if (!data)
    {
        failAndRecover(Error(Errc::Failed, "plugin " + device.pluginName() +
                                               " gave no data fd for " +
                                               device.device().address.str()),
                       false);
    }
    uint64_t total = 0;
    report(options, "resume", total);
    CopyResult copied = copy(
        sourceFd, data.get(), maxChunk, options,
        [&](uint64_t n) {
            total += n;
            report(options, "resume", total);
        },
        &data);
    // Closed before RESUMING -> STOP, which is where the device takes in
    // what was written (and when the source side of a migrate failed, its
    // cancellation arrives with the end of the pipe).
    data.reset();
    if (copied.end == CopyEnd::Cancelled ||
        (options.cancel != nullptr && options.cancel->cancelled()))
    {
        failAndRecover(Error(Errc::Failed, "load cancelled"), true);
    }
    walkTo(State::Running, nullptr);
}

namespace
{

void runSave(MigrationEngine& source, UniqueFd sink, StreamOptions options,
             CancelToken& loadCancel, std::exception_ptr& error)
{
    try
    {
        source.save(sink.get(), options);
    }
    catch (...)
    {
        error = std::current_exception();
        loadCancel.cancel(); // before the pipe closes: the load sees both
    }
}

/** @brief A load that stopped because the save side failed or was cancelled. */
bool loadWasCancelled(const std::exception_ptr& error)
{
    try
    {
        std::rethrow_exception(error);
    }
    catch (const MigrationFailure& e)
    {
        return e.cancelled();
    }
    catch (...)
    {
        return false;
    }
}

} // namespace

void migrate(MigrationEngine& source, MigrationEngine& target,
             const StreamOptions& options)
{
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    UniqueFd reader(ends[0]);
    UniqueFd writer(ends[1]);
    CancelToken loadCancel(options.cancel);
    std::exception_ptr saveError;
    std::exception_ptr loadError;
    StreamOptions loadOptions;
    loadOptions.cancel = &loadCancel;
    std::thread saver(runSave, std::ref(source), std::move(writer), options,
                      std::ref(loadCancel), std::ref(saveError));
    try
    {
        target.load(reader.get(), loadOptions);
    }
    catch (...)
    {
        loadError = std::current_exception();
    }
    reader.reset(); // a saver still writing gets EPIPE and recovers
    saver.join();
    if (saveError && (!loadError || loadWasCancelled(loadError)))
    {
        std::rethrow_exception(saveError);
    }
    if (loadError)
    {
        // The source gave everything away and sits in STOP: bring it back
        // so the VM can go on where it was.
        try
        {
            source.setState(State::Running);
        }
        catch (const Error&)
        {
            // Its own failure is secondary to the target's.
        }
        std::rethrow_exception(loadError);
    }
}

} // namespace vfiod::migration
