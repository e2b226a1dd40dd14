#include "bus_client.hpp"
#include "commands.hpp"
#include "output.hpp"

#include <iostream>

namespace vfioctl
{

ExitCode runList(const GlobalOptions& options)
{
    BusClient client(options.busAddress);
    // GetManagedObjects brings every device with its properties in one
    // round trip, where ListDevices + GetAll would take one per device.
    auto devices = client.listDevices();
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("devices");
        json.beginArray();
        for (const auto& [path, properties] : devices)
        {
            writeDeviceJson(json, path, properties);
        }
        json.endArray();
        json.endObject();
        std::cout << '\n';
    }
    else
    {
        printDeviceTable(std::cout, devices);
    }
    return ExitCode::ok;
}

} // namespace vfioctl
