#pragma once

#include "base/pci_address.hpp"
#include "base/stuck_devices.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace vfiod
{

/** @brief Size of the reason buffer handed to every op. */
inline constexpr size_t pluginErrorSize = 512;

/** @brief What an op returned: 0/-errno (or a probe answer) and its reason. */
struct OpResult
{
    int ret = 0;
    std::string reason; ///< what the plugin wrote into err, may be ""
};

/**
 * @brief Runs one plugin op on a thread of its own and waits at most
 * @p timeout for it.
 *
 * A plugin op is foreign code that may block forever (a firmware command
 * that never completes); the thread cannot be cancelled, so on timeout it
 * is abandoned, @p address is marked in @p stuck until the op returns, and
 * Error(TimedOut) is thrown. Everything the op touches must therefore be
 * owned by @p op itself (captured by value or shared_ptr), never borrowed
 * from the caller's stack.
 *
 * @param op called with the reason buffer and its size.
 * @throws Error(Busy) when the device is already stuck, Error(TimedOut).
 */
OpResult runPluginOp(std::function<int(char*, size_t)> op,
                     const std::shared_ptr<StuckDevices>& stuck,
                     const PciAddress& address,
                     std::chrono::milliseconds timeout,
                     const std::string& what);

/**
 * @brief Turns a failed op (-errno) into the Error a caller can act on:
 * ENOENT/ENODEV NotFound, EBUSY/EAGAIN Busy, EOPNOTSUPP/ENOTTY/ENOSYS
 * NotSupported, ETIMEDOUT TimedOut, the rest Failed.
 */
[[noreturn]] void failPluginOp(const OpResult& result, const std::string& what);

/** @brief "Invalid argument (EINVAL)". */
std::string errnoDescription(int error);

} // namespace vfiod
