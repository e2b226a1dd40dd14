#include "plugin/plugin_call_markers.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/text_escape.hpp"
#include "plugin/plugin_state_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <system_error>

namespace vfiod
{

namespace
{

constexpr std::string_view header = "vfiod plugin call";

/// The marked call of this thread, for the crash handler: plain data
/// (initial-exec TLS in the daemon's own image, safe to read in a signal
/// handler). -1: no call.
thread_local int markedDir = -1;
thread_local char markedName[64];
thread_local char crashedName[64 + crashedSuffix.size()];

constexpr int crashSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE,
                                SIGABRT, SIGSYS, SIGTRAP};
struct sigaction replaced[NSIG];

void onCrashSignal(int signal, siginfo_t*, void*)
{
    int saved = errno;
    if (markedDir >= 0)
    {
        ::renameat(markedDir, markedName, markedDir, crashedName);
        markedDir = -1;
    }
    // Dies as it would have without this handler: the one it replaced
    // (the default, or a sanitizer's) gets the signal again as soon as
    // this one returns.
    ::sigaction(signal, &replaced[signal], nullptr);
    ::raise(signal);
    errno = saved;
}

} // namespace

void PluginCallMarkers::installCrashHandler()
{
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action = {};
        action.sa_sigaction = onCrashSignal;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        ::sigemptyset(&action.sa_mask);
        for (int signal : crashSignals)
        {
            ::sigaction(signal, &action, &replaced[signal]);
        }
    });
}

std::string formatPluginCallRecord(const PluginCallRecord& record)
{
    // Escaped: a file name may hold a newline, and must not end the line.
    std::string text(header);
    text += "\nfile=" + text::escaped(record.file);
    text += "\nplugin=" + text::escaped(record.plugin);
    text += "\nop=" + text::escaped(record.op);
    text += "\ndevice=" + text::escaped(record.device);
    text += "\nend\n";
    return text;
}

PluginCallRecord parsePluginCallRecord(const std::string& text)
{
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != header)
    {
        fail(Errc::InvalidArgument, "not a vfiod plugin call marker");
    }
    PluginCallRecord record;
    std::map<std::string, std::string*> fields{{"file", &record.file},
                                               {"plugin", &record.plugin},
                                               {"op", &record.op},
                                               {"device", &record.device}};
    bool ended = false;
    while (std::getline(in, line))
    {
        if (line == "end")
        {
            ended = true;
            break;
        }
        size_t equals = line.find('=');
        auto field = equals == std::string::npos
                         ? fields.end()
                         : fields.find(line.substr(0, equals));
        if (field == fields.end())
        {
            fail(Errc::InvalidArgument, "plugin call marker line " +
                                            text::quotedArgument(line) +
                                            " is not file=, plugin=, op= "
                                            "or device=");
        }
        *field->second = line.substr(equals + 1);
    }
    if (!ended || record.file.empty() || record.op.empty())
    {
        fail(Errc::InvalidArgument,
             "plugin call marker is incomplete (no file, op or end line)");
    }
    return record;
}

std::shared_ptr<PluginCallMarkers>
    PluginCallMarkers::open(const std::string& stateDir, PluginLog log)
{
    std::string state = withoutTrailingSlashes(stateDir);
    UniqueFd stateFd =
        openStateDirectory(AT_FDCWD, state, state, "the state directory");
    std::string dir = state + "/plugin-calls";
    UniqueFd fd = openStateDirectory(stateFd.get(), "plugin-calls", dir,
                                     "the plugin call directory");
    bool locked = ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
    if (!locked && log)
    {
        log(LOG_WARNING, dir + " is held by another process (another vfiod "
                               "on the same state directory?): markers it "
                               "holds are not read as a crash");
    }
    installCrashHandler();
    return std::shared_ptr<PluginCallMarkers>(new PluginCallMarkers(
        std::move(dir), std::move(fd), locked, std::move(log)));
}

PluginCallMarkers::PluginCallMarkers(std::string directory, UniqueFd dirFd,
                                     bool isOwner, PluginLog logger) :
    dir(std::move(directory)),
    fd(std::move(dirFd)), locked(isOwner), log(std::move(logger))
{}

std::map<std::string, PluginCallRecord>
    PluginCallMarkers::list(std::map<std::string, std::string>* damaged) const
{
    std::map<std::string, PluginCallRecord> found;
    // A listing of its own: readdir moves the offset of the fd it reads.
    int listing = ::openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* opened = listing < 0 ? nullptr : ::fdopendir(listing);
    if (opened == nullptr)
    {
        int error = errno;
        if (listing >= 0)
        {
            ::close(listing);
        }
        fail(Errc::Failed, "cannot read " + dir + ": " + std::strerror(error));
    }
    while (const dirent* entry = ::readdir(opened))
    {
        std::string name = entry->d_name;
        if (name == "." || name == "..")
        {
            continue;
        }
        try
        {
            std::optional<std::string> text =
                readRegularFileAt(fd.get(), dir, name, maxMarkerBytes);
            if (text)
            {
                PluginCallRecord record = parsePluginCallRecord(*text);
                record.crashed = name.ends_with(crashedSuffix);
                found.emplace(name, std::move(record));
            }
        }
        catch (const std::exception& e)
        {
            if (damaged != nullptr)
            {
                (*damaged)[name] = e.what();
            }
        }
    }
    ::closedir(opened);
    return found;
}

void PluginCallMarkers::clear() const
{
    std::map<std::string, std::string> damaged;
    std::map<std::string, PluginCallRecord> markers = list(&damaged);
    auto remove = [&](const std::string& name) {
        // unlinkat never follows a link at the name; a directory planted
        // there is left (and stays reported) rather than walked.
        if (::unlinkat(fd.get(), name.c_str(), 0) < 0 && errno != ENOENT)
        {
            fail(Errc::Failed, "cannot remove " + dir + "/" + name + ": " +
                                   std::strerror(errno));
        }
    };
    for (const auto& [name, record] : markers)
    {
        remove(name);
    }
    for (const auto& [name, why] : damaged)
    {
        remove(name);
    }
}

PluginCallMarkers::Mark PluginCallMarkers::mark(const PluginCallRecord& record)
{
    std::string name = std::to_string(::getpid()) + "-" +
                       std::to_string(counter.fetch_add(1) + 1);
    UniqueFd file(::openat(fd.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0644));
    try
    {
        if (!file)
        {
            throw std::system_error(errno, std::generic_category(),
                                    "create " + dir + "/" + name);
        }
        writeAll(file.get(), formatPluginCallRecord(record), dir + "/" + name);
    }
    catch (const std::exception& e)
    {
        if (file)
        {
            ::unlinkat(fd.get(), name.c_str(), 0);
        }
        if (log && !failureLogged.exchange(true))
        {
            log(LOG_WARNING, std::string("plugin call markers cannot be "
                                         "written (") +
                                 e.what() +
                                 "): a plugin that crashes vfiod now is not "
                                 "known at the next start");
        }
        return {};
    }
    // Closed at once: no fd is held for the call's length. Not fsynced:
    // see the class.
    active.fetch_add(1);
    std::string crashed = name + std::string(crashedSuffix);
    if (crashed.size() < sizeof crashedName)
    {
        std::memcpy(markedName, name.c_str(), name.size() + 1);
        std::memcpy(crashedName, crashed.c_str(), crashed.size() + 1);
        markedDir = fd.get();
    }
    return Mark(shared_from_this(), std::move(name));
}

void PluginCallMarkers::unmark(const std::string& name) const noexcept
{
    if (markedDir == fd.get() && name == markedName)
    {
        markedDir = -1;
    }
    ::unlinkat(fd.get(), name.c_str(), 0);
    active.fetch_sub(1);
}

PluginCallMarkers::Mark::Mark(std::shared_ptr<const PluginCallMarkers> markers,
                              std::string file) :
    owner(std::move(markers)),
    name(std::move(file))
{}

PluginCallMarkers::Mark::~Mark()
{
    reset();
}

PluginCallMarkers::Mark::Mark(Mark&& other) noexcept :
    owner(std::move(other.owner)), name(std::move(other.name))
{
    other.owner.reset();
}

PluginCallMarkers::Mark&
    PluginCallMarkers::Mark::operator=(Mark&& other) noexcept
{
    if (this != &other)
    {
        reset();
        owner = std::move(other.owner);
        name = std::move(other.name);
        other.owner.reset();
    }
    return *this;
}

void PluginCallMarkers::Mark::reset() noexcept
{
    if (owner)
    {
        owner->unmark(name);
        owner.reset();
    }
}

} // namespace vfiod
