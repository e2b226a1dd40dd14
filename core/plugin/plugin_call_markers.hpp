#pragma once

#include "base/fd.hpp"
#include "plugin/plugin_services.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod
{

/** @brief What one marker says: which plugin was called for what. */
struct PluginCallRecord
{
    std::string file;   ///< the library's file name in the plugin directory
    std::string plugin; ///< its name, "" while it is being loaded
    std::string op;     ///< "probe", "reset", ..., "load"
    std::string device; ///< the device's address, "" for "load"
    /// Not in the text: the marker's name says that the process died of a
    /// crash signal on the very thread that made this call.
    bool crashed = false;

    bool operator==(const PluginCallRecord&) const = default;
};

/** @brief The marker's text (key=value lines), and back.
 *  @throws Error(Errc::InvalidArgument) for text that is not a marker. */
std::string formatPluginCallRecord(const PluginCallRecord& record);
PluginCallRecord parsePluginCallRecord(const std::string& text);

/**
 * @brief The plugin calls in flight, on disk: one small file per call in
 * STATE/plugin-calls, created before the plugin's code runs and removed
 * when it returns. A file left there at start-up means the previous run
 * died while that call ran.
 *
 * That alone does not make the crash the plugin's: a SIGKILL (systemd's
 * stop timeout, the OOM killer) or a crash on another thread leaves the
 * same files. So the first open() installs a handler of the crash
 * signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP),
 * which are delivered to the thread that caused them: when that thread is
 * inside a marked call, the handler renames its marker NAME.crashed
 * (renameat is async-signal-safe), then restores the handler it replaced
 * and raises the signal again, so the process dies as it would have (a
 * core dump, ASan's report). Only a .crashed marker convicts a plugin.
 * A crash the handler cannot run for (a stack overflow: the thread has no
 * stack left to run it on) is not attributed.
 *
 * One file per call, not one shared file: calls overlap on several
 * threads, and a file of its own needs no lock and no count to know when
 * it may go. Each is created with O_EXCL|O_NOFOLLOW under the directory's
 * fd (a directory that is a symlink is refused), named PID-COUNTER so
 * that two processes never share a name.
 *
 * No fsync: what a crash must survive is the process's death (SIGSEGV,
 * abort), and the kernel keeps the page cache across that; a power cut
 * loses the markers, and nothing in a power cut is the plugin's doing.
 * That keeps a mark at a create, a write and an unlink: a few
 * microseconds on every plugin call (tests/plugins prints the cost).
 *
 * The directory is flock()ed for the process's life, so that a second
 * vfiod started on the same state directory by mistake never reads the
 * live markers of the first as a crash (owner() is then false); the kernel
 * drops the lock when the process dies, however it dies.
 *
 * Thread-safe.
 */
class PluginCallMarkers : public std::enable_shared_from_this<PluginCallMarkers>
{
  public:
    /** @brief Removes its marker when destroyed (an empty one does nothing).
     *  Made and destroyed on the thread of the call it marks: the crash
     *  handler knows the call by its thread. */
    class Mark
    {
      public:
        Mark() = default;
        ~Mark();
        Mark(Mark&& other) noexcept;
        Mark& operator=(Mark&& other) noexcept;
        Mark(const Mark&) = delete;
        Mark& operator=(const Mark&) = delete;

      private:
        friend class PluginCallMarkers;
        Mark(std::shared_ptr<const PluginCallMarkers> owner, std::string name);
        void reset() noexcept;

        std::shared_ptr<const PluginCallMarkers> owner;
        std::string name;
    };

    /**
     * @brief Opens STATE/plugin-calls, creating it when missing.
     * @throws Error(Errc::InvalidArgument) naming it when it (or @p stateDir)
     *         is a symlink or not a directory; Error(Errc::Failed) when it
     *         cannot be created or opened.
     */
    static std::shared_ptr<PluginCallMarkers> open(const std::string& stateDir,
                                                   PluginLog log);

    PluginCallMarkers(const PluginCallMarkers&) = delete;
    PluginCallMarkers& operator=(const PluginCallMarkers&) = delete;

    /** @brief Whether this process holds the directory (see the class). */
    bool owner() const noexcept
    {
        return locked;
    }

    const std::string& directory() const noexcept
    {
        return dir;
    }

    /**
     * @brief The markers in the directory now, by file name. A file that
     * is not a marker (not a regular file, too large, not parsed) is
     * reported in @p damaged with why.
     */
    std::map<std::string, PluginCallRecord>
        list(std::map<std::string, std::string>* damaged = nullptr) const;

    /** @brief Removes every file of the directory (a symlink is removed,
     *  not followed). Only an owner() calls it, at start-up. */
    void clear() const;

    /**
     * @brief Marks one call until the Mark is destroyed. Never throws: a
     * marker that cannot be written costs only the crash's attribution,
     * never the call (the first failure is logged).
     */
    Mark mark(const PluginCallRecord& record);

    /** @brief How many of this process's marks exist now. */
    size_t inFlight() const noexcept
    {
        return active.load();
    }

  private:
    PluginCallMarkers(std::string dir, UniqueFd fd, bool locked, PluginLog log);
    void unmark(const std::string& name) const noexcept;
    static void installCrashHandler();

    std::string dir;
    UniqueFd fd;
    bool locked;
    PluginLog log;
    std::atomic<uint64_t> counter{0};
    mutable std::atomic<size_t> active{0};
    std::atomic<bool> failureLogged{false};
};

/** @brief The suffix the crash handler gives the marker of the call
 *  whose thread crashed. */
inline constexpr std::string_view crashedSuffix = ".crashed";

/** @brief Marker files larger than this are not markers. */
inline constexpr size_t maxMarkerBytes = 4096;

} // namespace vfiod
