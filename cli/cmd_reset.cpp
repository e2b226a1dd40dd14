#include "bus_client.hpp"
#include "commands.hpp"
#include "device_report.hpp"

namespace vfioctl
{

ExitCode runReset(const GlobalOptions& options, const std::string& address,
                  const std::optional<std::string>& method)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    MethodOptions methodOptions = forceOptions(options.force);
    if (method)
    {
        methodOptions["method"] = sdbus::Variant(*method);
    }
    client.reset(path, methodOptions);
    reportDevice(options, client, path,
                 method ? "reset (" + *method + ")" : std::string("reset"));
    return ExitCode::ok;
}

} // namespace vfioctl
