#include "bus_client.hpp"
#include "commands.hpp"

#include <iostream>

namespace vfioctl
{

ExitCode runReload(const GlobalOptions& options)
{
    BusClient client(options.busAddress);
    client.reload();
    if (options.json)
    {
        std::cout << "{\"reloaded\":true}\n";
    }
    else
    {
        std::cout << "configuration reloaded\n";
    }
    return ExitCode::ok;
}

} // namespace vfioctl
