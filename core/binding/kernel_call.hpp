#pragma once

#include "base/pci_address.hpp"
#include "base/stuck_devices.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace vfiod
{

class KernelHost;

/**
 * @brief Runs a kernel call that may block indefinitely (an unbind from
 * vfio-pci waits until every fd on the device is closed) with a timeout.
 *
 * The call runs on its own thread. When it does not return in time,
 * runWithTimeout throws Error(Errc::TimedOut) and the thread is left to
 * finish whenever the kernel lets it: a thread stuck in write(2) cannot be
 * cancelled. Exceptions thrown by the call are rethrown to the caller.
 *
 * @param what names the call in the timeout message, e.g.
 *        "unbind of 0000:03:00.0 from vfio-pci".
 */
void runWithTimeout(const std::function<void()>& call,
                    std::chrono::milliseconds timeout, const std::string& what);

/**
 * @brief Turns a failed sysfs write into the Error a caller can act on:
 * ENODEV/ENOENT → NotFound, EBUSY/EAGAIN → Busy, the rest → Failed, with
 * the errno name in the message.
 */
[[noreturn]] void failKernelWrite(const std::system_error& e,
                                  const PciAddress& address,
                                  const std::string& what);

/**
 * @brief Sysfs writes on a device that may block, with a timeout, and the
 * memory of which devices still have a call blocked in the kernel.
 *
 * A device whose call timed out is "stuck" until the kernel returns from
 * that call; every later operation on it gets Busy instead of piling up
 * another blocked thread.
 */
class KernelCalls
{
  public:
    /** @param stuck the registry of calls blocked past their caller, shared
     *         with the plugin host (a registry of its own when null). */
    explicit KernelCalls(KernelHost& host,
                         std::shared_ptr<StuckDevices> stuck = nullptr);
    ~KernelCalls();

    /**
     * @brief Writes @p value to @p path, giving up after @p timeout.
     * @throws Error: TimedOut (the device is then stuck), or the mapping of
     *         failKernelWrite.
     */
    void write(const PciAddress& address, const std::string& path,
               const std::string& value, std::chrono::milliseconds timeout,
               const std::string& what);

    /**
     * @brief Runs @p call, kernel accesses to @p address that may block,
     * on a thread of its own, giving up after @p timeout. The device is
     * marked stuck while the call runs; @p call must own what it touches,
     * as it may outlive this one.
     * @throws Error(TimedOut), or what @p call throws.
     */
    void run(const PciAddress& address, const std::function<void()>& call,
             std::chrono::milliseconds timeout, const std::string& what);

    /** @brief Throws Busy when an earlier call on the device is blocked. */
    void requireNotStuck(const PciAddress& address) const;

    /** @brief Whether a call on the device is still blocked. */
    bool isStuck(const PciAddress& address) const;

    /**
     * @brief Waits until no call on the device is blocked any more. The
     * kernel sends its uevent before the blocked write returns, so a
     * reaction to that uevent waits here first.
     * @return false when the timeout passed first.
     */
    bool waitUntilNotStuck(const PciAddress& address,
                           std::chrono::milliseconds timeout) const;

    /** @brief The registry this instance marks its blocked calls in. */
    const std::shared_ptr<StuckDevices>& registry() const noexcept
    {
        return stuck;
    }

  private:
    KernelHost& host;
    std::shared_ptr<StuckDevices> stuck;
};

} // namespace vfiod
