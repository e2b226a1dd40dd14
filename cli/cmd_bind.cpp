#include "bus_client.hpp"
#include "commands.hpp"
#include "device_report.hpp"

namespace vfioctl
{

ExitCode runBind(const GlobalOptions& options, const std::string& address,
                 const std::optional<std::string>& driver, bool wholeGroup)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    MethodOptions methodOptions;
    if (driver)
    {
        methodOptions["driver"] = sdbus::Variant(*driver);
    }
    if (wholeGroup)
    {
        methodOptions["group"] = sdbus::Variant(true);
    }
    client.bind(path, methodOptions);
    reportDevice(options, client, path, "bound");
    return ExitCode::ok;
}

ExitCode runUnbind(const GlobalOptions& options, const std::string& address)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    client.unbind(path, forceOptions(options.force));
    reportDevice(options, client, path, "unbound");
    return ExitCode::ok;
}

} // namespace vfioctl
