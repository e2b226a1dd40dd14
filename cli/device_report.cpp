#include "device_report.hpp"

#include "output.hpp"

#include <iostream>

namespace vfioctl
{

void reportDevice(const GlobalOptions& options, BusClient& client,
                  const sdbus::ObjectPath& path, const std::string& what)
{
    auto properties = client.deviceProperties(path);
    if (options.json)
    {
        JsonWriter json(std::cout);
        writeDeviceJson(json, path, properties);
        std::cout << std::endl;
        return;
    }
    std::cout << stringProperty(properties, "Address") << ": " << what << ": "
              << deviceSummary(properties) << std::endl;
}

} // namespace vfioctl
