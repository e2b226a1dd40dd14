#include "sim/sim_kernel.hpp"

#include "base/error.hpp"
#include "kernel/migration_fsm.hpp"
#include "sim/sim_attributes.hpp"
#include "sim/sim_dev_nodes.hpp"
#include "sim/sim_host_actions.hpp"
#include "sim/sim_host_file.hpp"
#include "sim/sim_kill_point.hpp"
#include "sim/sim_migration.hpp"
#include "sim/sim_pci_bus.hpp"
#include "sim/sim_pci_ids.hpp"
#include "sim/sim_state_watch.hpp"
#include "sim/sim_sysfs.hpp"
#include "sim/sim_writes.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace vfiod
{

using namespace std::chrono_literals;

namespace
{

/// Upper bound between two looks at the state while waiting, in case a
/// change notification is missed (or inotify is unavailable).
constexpr std::chrono::milliseconds maxPollInterval = 50ms;

/// sim::setWaitObserver's observer (tests only; empty otherwise).
std::mutex waitObserverMutex;
std::function<void(const std::string&)> waitObserver;

void tellWaitObserver(const std::string& what)
{
    std::function<void(const std::string&)> observer;
    {
        std::lock_guard lock(waitObserverMutex);
        observer = waitObserver;
    }
    if (observer)
    {
        observer(what);
    }
}

[[noreturn]] void throwErrno(int error, const std::string& what)
{
    throw std::system_error(error, std::generic_category(), what);
}

/// The kernel whose lock this thread holds for a readTogether: its read
/// transactions are served under that lock, without taking it again.
thread_local const SimKernel* readingTogether = nullptr;

/// Thrown out of a read whose attribute takes a device lock an operation
/// in flight holds: the reader waits where it holds no lock, then reads
/// again, as a reader in the kernel would sleep in device_lock().
struct DeviceLocked
{
    sim::Step wait;
};

} // namespace

int64_t simNowMs()
{
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

SimKernel::SimKernel(const std::string& hostFile, const std::string& stateDir) :
    store(stateDir), log(store.ueventLogPath())
{
    std::lock_guard guard(mutex);
    auto lock = store.lockExclusive();
    if (store.refresh(model))
    {
        return; // the state wins; the host file is only for a new one
    }
    if (hostFile.empty())
    {
        fail(Errc::NotFound, "no simulated kernel state in " + stateDir +
                                 " and no host file to create it from");
    }
    model = sim::loadHostFile(hostFile);
    model.instance = sim::SimStateStore::newInstance();
    // A log left from an earlier state would mix seqnum sequences.
    store.wipe();
    log.create();
    store.save(model);
}

void SimKernel::requireState()
{
    if (!store.refresh(model))
    {
        fail(Errc::Failed,
             "the simulated kernel state in " + store.dir() + " has vanished");
    }
}

void SimKernel::requireNotReadingTogether(const char* what) const
{
    if (readingTogether == this)
    {
        throw std::logic_error(std::string(what) +
                               " inside KernelHost::readTogether");
    }
}

template <typename F>
auto SimKernel::readTransaction(F&& body)
{
    if (readingTogether == this)
    {
        return body(std::as_const(model)); // the lock is held already
    }
    for (;;)
    {
        sim::Step wait;
        {
            std::lock_guard guard(mutex);
            auto lock = store.lockShared();
            requireState();
            try
            {
                return body(std::as_const(model));
            }
            catch (const DeviceLocked& locked)
            {
                wait = locked.wait;
            }
        }
        waitPending(wait.device, wait.pendingId, wait.readyAtMs);
    }
}

void SimKernel::readTogether(const std::function<void()>& reads)
{
    if (readingTogether == this)
    {
        reads(); // nested: the outer call holds the lock
        return;
    }
    for (;;)
    {
        sim::Step wait;
        try
        {
            readTogetherOnce(reads);
            return;
        }
        catch (const DeviceLocked& locked)
        {
            // Every lock is released: the group is read again whole, as
            // one moment, once the device lock is free.
            wait = locked.wait;
        }
        waitPending(wait.device, wait.pendingId, wait.readyAtMs);
    }
}

void SimKernel::readTogetherOnce(const std::function<void()>& reads)
{
    std::lock_guard guard(mutex);
    auto lock = store.lockShared();
    requireState();
    // Restores the outer value: a group on another kernel may enclose this
    // one, and its reads must still find their lock held.
    struct Reading
    {
        explicit Reading(const SimKernel* kernel) : outer(readingTogether)
        {
            readingTogether = kernel;
        }
        ~Reading()
        {
            readingTogether = outer;
        }
        const SimKernel* outer;
        Reading(const Reading&) = delete;
        Reading& operator=(const Reading&) = delete;
    } reading(this);
    reads();
}

template <typename F>
auto SimKernel::writeTransaction(F&& body)
{
    requireNotReadingTogether("a change of the simulated kernel");
    std::lock_guard guard(mutex);
    auto lock = store.lockExclusive();
    requireState();
    sim::Events events;
    sim::PciBus bus(model, events);
    sim::Tx tx{model, bus, simNowMs()};
    tx.streamDir = migrationDir();
    try
    {
        // Operations whose condition came true meanwhile (the last close
        // of a device being unbound, a reset's delay) finish first, as
        // they would have in the kernel.
        tx.changed = bus.settle(tx.nowMs);
        auto result = body(tx);
        if (tx.changed || !events.empty())
        {
            store.save(model);
            log.append(events);
        }
        return result;
    }
    catch (...)
    {
        // The model may be half changed: re-read it next time.
        store.invalidate();
        throw;
    }
}

std::optional<std::string> SimKernel::read(const std::string& path)
{
    return readTransaction(
        [&](const sim::Model& m) -> std::optional<std::string> {
            std::optional<sim::SysEntry> entry = sim::lookup(m, path);
            if (!entry)
            {
                return std::nullopt;
            }
            if (std::optional<sim::Step> wait =
                    sim::waitIfReadLocked(m, *entry))
            {
                throw DeviceLocked{*wait};
            }
            switch (entry->type)
            {
                case sim::SysEntry::Type::Dir:
                case sim::SysEntry::Type::Link:
                    throwErrno(EISDIR, "read " + path);
                case sim::SysEntry::Type::WriteOnly:
                    throwErrno(EACCES, "read " + path);
                case sim::SysEntry::Type::File:
                    break;
            }
            return sim::attributeText(m, entry->dir, entry->name);
        });
}

UniqueFd SimKernel::openAttribute(const std::string& path, int flags)
{
    using migration::State;
    std::string file = readTransaction([&](const sim::Model& m) {
        std::optional<sim::SysEntry> entry = sim::lookup(m, path);
        if (!entry)
        {
            throwErrno(ENOENT, "open " + path);
        }
        if (entry->name != std::string(sim::migrationPrefix) + "data")
        {
            throwErrno(EACCES, "open " + path);
        }
        const sim::Device& d = *sim::findDevice(m, entry->dir.address);
        auto state = static_cast<State>(d.migrationState);
        bool reading = state == State::PreCopy || state == State::PreCopyP2P ||
                       state == State::StopCopy;
        int mode = flags & O_ACCMODE;
        if (!reading && state != State::Resuming)
        {
            throwErrno(ENODATA, "open " + path); // no stream in this state
        }
        if (mode != (reading ? O_RDONLY : O_WRONLY))
        {
            throwErrno(EINVAL, "open " + path);
        }
        return sim::streamPath(migrationDir(), d.address);
    });
    // A data fd is not seekable and starts at the stream's beginning.
    UniqueFd fd(::open(file.c_str(), (flags & ~O_CREAT) | O_CLOEXEC));
    if (!fd)
    {
        throwErrno(errno, "open " + path);
    }
    return fd;
}

void SimKernel::write(const std::string& path, std::string_view value)
{
    sim::WriteMemory memory;
    unsigned step = sim::kill_point::before("write " + path);
    runSteps(
        [&](sim::Tx& tx) { return sim::applyWrite(tx, path, value, memory); },
        "write " + path, step);
}

void SimKernel::runSteps(const std::function<sim::Step(sim::Tx&)>& attempt,
                         const std::string& what, unsigned killPoint)
{
    for (;;)
    {
        sim::Step step = writeTransaction(attempt);
        // The kernel has taken the write (or started what it waits for):
        // a test may kill its writer here (sim_kill_point.hpp).
        sim::kill_point::after(std::exchange(killPoint, 0));
        switch (step.kind)
        {
            case sim::Step::Kind::Done:
                if (step.error != 0)
                {
                    throwErrno(step.error, what);
                }
                return;
            case sim::Step::Kind::WaitUnlocked:
                waitPending(step.device, step.pendingId, step.readyAtMs);
                continue; // the device lock is free: try again
            case sim::Step::Kind::WaitCompleted:
                waitPending(step.device, step.pendingId, step.readyAtMs);
                if (step.error != 0)
                {
                    throwErrno(step.error, what);
                }
                return;
        }
    }
}

void SimKernel::waitPending(const PciAddress& address, uint64_t pendingId,
                            int64_t readyAtMs)
{
    sim::StateWatch watch(store.dir());
    bool told = false;
    for (;;)
    {
        bool finished = writeTransaction([&](sim::Tx& tx) {
            const sim::Device* d = sim::findDevice(tx.model, address);
            return d == nullptr || d->pending.id != pendingId;
        });
        if (finished)
        {
            return;
        }
        if (!told)
        {
            tellWaitObserver(address.str());
            told = true;
        }
        auto wait = maxPollInterval;
        int64_t untilReady = readyAtMs - simNowMs();
        if (untilReady > 0 && untilReady < wait.count())
        {
            wait = std::chrono::milliseconds(untilReady);
        }
        // Nothing is held here: other threads and processes go on, and one
        // of them may be the one that closes the device.
        watch.wait(wait);
    }
}

std::optional<std::string> SimKernel::readLinkName(const std::string& path)
{
    return readTransaction(
        [&](const sim::Model& m) -> std::optional<std::string> {
            std::optional<sim::SysEntry> entry = sim::lookup(m, path);
            if (!entry || entry->type != sim::SysEntry::Type::Link)
            {
                return std::nullopt;
            }
            return entry->name;
        });
}

std::vector<std::string> SimKernel::list(const std::string& path)
{
    return readTransaction([&](const sim::Model& m) {
        std::optional<sim::SysEntry> entry = sim::lookup(m, path);
        if (!entry || (entry->type != sim::SysEntry::Type::Dir &&
                       entry->type != sim::SysEntry::Type::Link))
        {
            return std::vector<std::string>{};
        }
        return sim::childNames(m, entry->dir);
    });
}

bool SimKernel::exists(const std::string& path)
{
    return readTransaction(
        [&](const sim::Model& m) { return sim::lookup(m, path).has_value(); });
}

void SimKernel::modprobe(const std::string& module)
{
    unsigned step = sim::kill_point::before("modprobe " + module);
    writeTransaction([&](sim::Tx& tx) {
        sim::Module* m = sim::findModule(tx.model, module);
        if (m == nullptr)
        {
            fail(Errc::NotFound, "modprobe: FATAL: Module " + module +
                                     " not found in directory "
                                     "/lib/modules/" +
                                     tx.model.kernelRelease);
        }
        if (!m->loaded)
        {
            tx.bus.loadModule(*m);
            tx.changed = true;
        }
        return 0;
    });
    sim::kill_point::after(step);
}

std::string SimKernel::modulesAlias()
{
    return readTransaction(
        [](const sim::Model& m) { return sim::modulesAliasText(m); });
}

bool SimKernel::devNodeExists(const std::string& path)
{
    return readTransaction(
        [&](const sim::Model& m) { return sim::devNodeExists(m, path); });
}

bool SimKernel::waitDevNode(const std::string& path,
                            std::chrono::milliseconds timeout)
{
    // Nothing could create the node while this thread holds the lock.
    requireNotReadingTogether("waitDevNode");
    // The node is nearly always there already: look before watching, as
    // tearing an inotify watch down waits for an fsnotify grace period
    // (~10 ms, most of a simulated bind; bench/).
    if (devNodeExists(path))
    {
        return true;
    }
    // Watch before the next look, so a node created in between wakes us.
    sim::StateWatch watch(store.dir());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool told = false;
    for (;;)
    {
        if (devNodeExists(path))
        {
            return true;
        }
        if (!told)
        {
            tellWaitObserver(path);
            told = true;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= 0ms)
        {
            return false;
        }
        watch.wait(std::min(left, maxPollInterval));
    }
}

std::unique_ptr<UeventSource> SimKernel::openUevents()
{
    requireNotReadingTogether("openUevents");
    std::lock_guard guard(mutex);
    // Under the lock, so the source starts exactly between two changes.
    auto lock = store.lockShared();
    return log.subscribe();
}

void SimKernel::hotAdd(const std::string& deviceToml)
{
    writeTransaction([&](sim::Tx& tx) {
        sim::plugDevice(tx, deviceToml);
        return 0;
    });
}

void SimKernel::hotRemove(const PciAddress& address)
{
    unsigned step = sim::kill_point::before("remove " + address.str());
    runSteps([&](sim::Tx& tx) { return sim::unplugDevice(tx, address); },
             "remove " + address.str(), step);
}

namespace
{

/** @brief "PID COMMAND" of this process: a simulated VMM. */
std::string thisOpener()
{
    std::string command = "?";
    if (FILE* comm = std::fopen("/proc/self/comm", "re"))
    {
        char text[64] = {};
        if (std::fgets(text, sizeof text, comm) != nullptr)
        {
            command = text;
            command.erase(command.find_last_not_of('\n') + 1);
        }
        std::fclose(comm);
    }
    return std::to_string(::getpid()) + " " + command;
}

} // namespace

void SimKernel::openDevice(const PciAddress& address)
{
    std::string opener = thisOpener();
    writeTransaction([&](sim::Tx& tx) {
        sim::openThroughVfio(tx, address, opener);
        return 0;
    });
}

void SimKernel::closeDevice(const PciAddress& address)
{
    std::string opener = thisOpener();
    writeTransaction([&](sim::Tx& tx) {
        sim::closeThroughVfio(tx, address, opener);
        return 0;
    });
}

std::vector<VfioHolder> SimKernel::vfioHolders()
{
    return readTransaction([](const sim::Model& m) {
        std::vector<VfioHolder> holders;
        for (const auto& [address, d] : m.devices)
        {
            for (const std::string& opener : d.openers)
            {
                VfioHolder holder;
                size_t space = opener.find(' ');
                holder.pid = std::atoi(opener.substr(0, space).c_str());
                holder.command =
                    space == std::string::npos ? "?" : opener.substr(space + 1);
                holder.node = "vfio/" + std::to_string(d.iommuGroup);
                if (std::find(holders.begin(), holders.end(), holder) ==
                    holders.end())
                {
                    holders.push_back(std::move(holder));
                }
            }
        }
        return holders;
    });
}

namespace sim
{

void setWaitObserver(std::function<void(const std::string& what)> observer)
{
    std::lock_guard lock(waitObserverMutex);
    waitObserver = std::move(observer);
}

} // namespace sim

} // namespace vfiod
