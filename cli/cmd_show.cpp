#include "bus_client.hpp"
#include "commands.hpp"
#include "output.hpp"

#include <iostream>

namespace vfioctl
{

ExitCode runShow(const GlobalOptions& options, const std::string& address)
{
    BusClient client(options.busAddress);
    auto path = client.getDevice(address);
    auto properties = client.deviceProperties(path);
    if (options.json)
    {
        JsonWriter json(std::cout);
        writeDeviceJson(json, path, properties);
        std::cout << '\n';
    }
    else
    {
        printDeviceDetails(std::cout, properties);
    }
    return ExitCode::ok;
}

} // namespace vfioctl
