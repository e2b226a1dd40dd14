#pragma once

#include "base/pci_address.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace vfiod
{

/**
 * @brief The one registry of devices with a call still blocked past its
 * caller: a kernel write (an unbind from vfio waits until every fd on the
 * device is closed) or a plugin op (foreign code that may hang). Such a
 * call cannot be cancelled; until it returns, every later operation on the
 * device is refused with Busy naming it, instead of piling up another
 * blocked thread. The binder's kernel calls and the plugin host share one
 * instance (the core service makes it), and every operation checks it.
 *
 * Thread-safe; kept alive by the calls that may outlive their caller.
 */
class StuckDevices
{
  public:
    /** @brief Where the blocked call is. */
    enum class Source
    {
        Kernel,
        Plugin,
    };

    using Mark = uint64_t;

    /**
     * @brief Marks @p address as having a call in flight that may block;
     * @p refusal is the Busy message later operations get meanwhile.
     * @return what to clear() once the call returns.
     */
    Mark mark(const PciAddress& address, Source source, std::string refusal);

    /** @brief The call of @p mark returned. */
    void clear(Mark mark);

    /** @brief Whether a call on @p address is in flight (from @p source
     *  only, when given). */
    bool contains(const PciAddress& address,
                  std::optional<Source> source = std::nullopt) const;

    /** @throws Error(Busy) naming the call when one is in flight. */
    void requireNotStuck(const PciAddress& address) const;

    /**
     * @brief Waits until no call of @p source on @p address is in flight.
     * @return false when the timeout passed first.
     */
    bool waitUntilClear(const PciAddress& address, Source source,
                        std::chrono::milliseconds timeout) const;

  private:
    struct Entry
    {
        PciAddress address;
        Source source;
        std::string refusal;
    };

    const Entry* find(const PciAddress& address,
                      std::optional<Source> source) const;

    mutable std::mutex mutex;
    mutable std::condition_variable cleared;
    Mark next = 1;
    std::map<Mark, Entry> entries;
};

} // namespace vfiod
