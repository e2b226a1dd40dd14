#include "signal_recorder.hpp"

#include "test_env.hpp"

#include <algorithm>
#include <map>

namespace vfiod::test
{

SignalRecorder::SignalRecorder(std::unique_ptr<sdbus::IConnection> bus) :
    connection(std::move(bus))
{
    match = connection->addMatch(
        "type='signal',sender='org.vfiod1'",
        [this](sdbus::Message& message) { record(message); });
    connection->enterEventLoopAsync();
}

SignalRecorder::~SignalRecorder()
{
    connection->leaveEventLoop();
}

void SignalRecorder::record(sdbus::Message& message)
{
    RecordedSignal signal{message.getMemberName(), message.getPath(), {}};
    if (signal.member == "PropertiesChanged")
    {
        std::string interface;
        std::map<std::string, sdbus::Variant> changed;
        std::vector<std::string> invalidated;
        message >> interface >> changed >> invalidated;
        for (const auto& [name, value] : changed)
        {
            signal.names.push_back(name);
        }
        signal.names.insert(signal.names.end(), invalidated.begin(),
                            invalidated.end());
    }
    else if (signal.member == "InterfacesAdded")
    {
        sdbus::ObjectPath path;
        std::map<std::string, std::map<std::string, sdbus::Variant>> added;
        message >> path >> added;
        signal.path = path;
        for (const auto& [name, properties] : added)
        {
            signal.names.push_back(name);
        }
    }
    else if (signal.member == "InterfacesRemoved")
    {
        sdbus::ObjectPath path;
        message >> path >> signal.names;
        signal.path = path;
    }
    std::lock_guard lock(mutex);
    recorded.push_back(std::move(signal));
    added.notify_all();
}

std::vector<RecordedSignal> SignalRecorder::signals() const
{
    std::lock_guard lock(mutex);
    return recorded;
}

void SignalRecorder::waitFor(
    const std::function<bool(const RecordedSignal&)>& match) const
{
    std::unique_lock lock(mutex);
    added.wait(lock, [&] {
        return std::any_of(recorded.begin(), recorded.end(), match);
    });
}

void SignalRecorder::clear()
{
    std::lock_guard lock(mutex);
    recorded.clear();
}

std::function<bool(const RecordedSignal&)>
    propertyChanged(const std::string& path, const std::string& property)
{
    return [=](const RecordedSignal& s) {
        return s.member == "PropertiesChanged" && s.path == path &&
               std::find(s.names.begin(), s.names.end(), property) !=
                   s.names.end();
    };
}

std::function<bool(const RecordedSignal&)>
    objectSignal(const std::string& member, const std::string& path)
{
    return [=](const RecordedSignal& s) {
        return s.member == member && s.path == path;
    };
}

} // namespace vfiod::test
