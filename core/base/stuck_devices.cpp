#include "base/stuck_devices.hpp"

#include "base/error.hpp"

namespace vfiod
{

StuckDevices::Mark StuckDevices::mark(const PciAddress& address, Source source,
                                      std::string refusal)
{
    std::lock_guard lock(mutex);
    Mark id = next++;
    entries.emplace(id, Entry{address, source, std::move(refusal)});
    return id;
}

void StuckDevices::clear(Mark mark)
{
    std::lock_guard lock(mutex);
    entries.erase(mark);
    cleared.notify_all();
}

const StuckDevices::Entry*
    StuckDevices::find(const PciAddress& address,
                       std::optional<Source> source) const
{
    for (const auto& [id, entry] : entries)
    {
        if (entry.address == address && (!source || entry.source == *source))
        {
            return &entry;
        }
    }
    return nullptr;
}

bool StuckDevices::contains(const PciAddress& address,
                            std::optional<Source> source) const
{
    std::lock_guard lock(mutex);
    return find(address, source) != nullptr;
}

void StuckDevices::requireNotStuck(const PciAddress& address) const
{
    std::string refusal;
    {
        std::lock_guard lock(mutex);
        const Entry* entry = find(address, std::nullopt);
        if (entry == nullptr)
        {
            return;
        }
        refusal = entry->refusal;
    }
    fail(Errc::Busy, refusal);
}

bool StuckDevices::waitUntilClear(const PciAddress& address, Source source,
                                  std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex);
    return cleared.wait_for(lock, timeout, [this, &address, source] {
        return find(address, source) == nullptr;
    });
}

} // namespace vfiod
