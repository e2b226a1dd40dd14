#include "binding/reset.hpp"

#include "base/error.hpp"
#include "base/text_escape.hpp"
#include "binding/kernel_call.hpp"
#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"
#include "pci/pci_device.hpp"

#include <algorithm>
#include <system_error>

namespace vfiod
{

namespace
{

std::string joined(const std::vector<std::string>& words)
{
    std::string out;
    for (const auto& w : words)
    {
        out += (out.empty() ? "" : " ") + w;
    }
    return out;
}

void writeResetMethods(KernelHost& host, const PciDevice& device,
                       const std::string& methods)
{
    try
    {
        host.write(sysfs::deviceAttr(device.address, "reset_method"), methods);
    }
    catch (const std::system_error& e)
    {
        failKernelWrite(e, device.address,
                        "writing reset_method \"" + methods + "\"");
    }
}

} // namespace

void resetFunction(KernelHost& host, KernelCalls& calls,
                   const PciDevice& device, const std::string& method,
                   std::chrono::milliseconds timeout)
{
    const std::string addr = device.address.str();
    if (!device.hasResetFile || device.resetMethods.empty())
    {
        fail(Errc::NotSupported,
             addr + " has no reset method (the kernel offers no 'reset' "
                    "file for it)");
    }
    const auto& offered = device.resetMethods;
    if (!method.empty() &&
        std::find(offered.begin(), offered.end(), method) == offered.end())
    {
        fail(Errc::NotSupported, addr + " does not offer reset method " +
                                     text::quotedArgument(method) +
                                     " (it offers: " + joined(offered) + ")");
    }

    calls.requireNotStuck(device.address);
    const bool narrowed = !method.empty() && offered.size() > 1;
    if (narrowed)
    {
        writeResetMethods(host, device, method);
    }
    try
    {
        calls.write(device.address, sysfs::deviceAttr(device.address, "reset"),
                    "1", timeout,
                    "reset" + (method.empty() ? "" : " by " + method));
    }
    catch (const Error& e)
    {
        if (narrowed && e.code() != Errc::TimedOut)
        {
            writeResetMethods(host, device, joined(offered));
        }
        if (e.code() == Errc::Failed)
        {
            fail(Errc::Failed,
                 std::string(e.what()) +
                     "; the device lists the method but cannot do it now "
                     "(for a bus reset: another device shares the bus)");
        }
        throw;
    }
    if (narrowed)
    {
        writeResetMethods(host, device, joined(offered));
    }
}

} // namespace vfiod
