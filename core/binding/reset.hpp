#pragma once

#include <chrono>
#include <string>

namespace vfiod
{

class KernelCalls;
class KernelHost;
struct PciDevice;

/**
 * @brief Resets a PCI function through sysfs, as pci_reset_function does.
 *
 * With a @p method, the device's reset_method list is narrowed to that one
 * method for the reset and restored afterwards, whatever happens, so a
 * failed attempt leaves the device as usable as before. Without one the
 * kernel tries the enabled methods in its own order.
 *
 * @throws Error: NotSupported (no reset method at all, or @p method is not
 *         one the device offers), Failed (the kernel could not reset it;
 *         reset_method lists what it claims, not what works), Busy,
 *         TimedOut.
 */
void resetFunction(KernelHost& host, KernelCalls& calls,
                   const PciDevice& device, const std::string& method,
                   std::chrono::milliseconds timeout);

} // namespace vfiod
