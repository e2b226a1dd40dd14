#include "uevent_pump.hpp"

#include "logging.hpp"
#include "main_loop.hpp"

namespace vfiod::daemon
{

UeventPump::UeventPump(MainLoop& loop, std::unique_ptr<UeventSource> source,
                       Consumer consumer) :
    loop(loop),
    source(std::move(source)), consumer(std::move(consumer))
{
    loop.watch(this->source->fd(), [this](short) { onReadable(); });
}

UeventPump::~UeventPump()
{
    loop.unwatch(source->fd());
}

void UeventPump::onReadable()
{
    std::vector<Uevent> events;
    try
    {
        events = source->receive();
    }
    catch (const std::exception& e)
    {
        logWarning(std::string("cannot read uevents: ") + e.what() +
                   ", ignoring");
        return;
    }
    for (const Uevent& event : events)
    {
        logDebug("uevent " + std::to_string(event.seqnum) + " " + event.action +
                 " " + event.subsystem + " " + event.sysname);
    }
    if (!events.empty())
    {
        consumer(std::move(events));
    }
}

} // namespace vfiod::daemon
