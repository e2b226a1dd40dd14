#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vfiod::test
{

/** @brief One signal vfiod emitted. */
struct RecordedSignal
{
    std::string member; ///< PropertiesChanged, InterfacesAdded, ...
    std::string path;   ///< the object it is about
    /// PropertiesChanged: the changed property names; InterfacesAdded and
    /// InterfacesRemoved: the interface names.
    std::vector<std::string> names;
};

/**
 * @brief Records every signal org.vfiod1 emits, on a connection of its own
 * with its own event loop thread.
 */
class SignalRecorder
{
  public:
    explicit SignalRecorder(std::unique_ptr<sdbus::IConnection> connection);
    ~SignalRecorder();

    std::vector<RecordedSignal> signals() const;

    /**
     * @brief Waits until a recorded signal satisfies @p match, woken by
     * each signal recorded. No time bound: a signal that never comes
     * hangs the test until meson's timeout.
     */
    void waitFor(const std::function<bool(const RecordedSignal&)>& match) const;

    void clear();

  private:
    void record(sdbus::Message& message);

    std::unique_ptr<sdbus::IConnection> connection;
    sdbus::Slot match;
    mutable std::mutex mutex;
    mutable std::condition_variable added;
    std::vector<RecordedSignal> recorded;
};

/** @brief A PropertiesChanged on @p path naming @p property. */
std::function<bool(const RecordedSignal&)>
    propertyChanged(const std::string& path, const std::string& property);

/** @brief An InterfacesAdded/Removed (@p member) of @p path. */
std::function<bool(const RecordedSignal&)>
    objectSignal(const std::string& member, const std::string& path);

} // namespace vfiod::test
