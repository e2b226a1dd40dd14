#include "kernel/sysfs_layout.hpp"

#include "base/error.hpp"
#include "base/toml_reader.hpp"

namespace vfiod::sysfs
{

std::string devicePath(const PciAddress& address)
{
    return std::string(pciDevices) + "/" + address.str();
}

std::string deviceAttr(const PciAddress& address, std::string_view attr)
{
    return devicePath(address) + "/" + std::string(attr);
}

bool isValidDriverName(std::string_view name) noexcept
{
    if (name.empty() || name.size() > 64)
    {
        return false;
    }
    for (char c : name)
    {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok)
        {
            return false;
        }
    }
    return true;
}

const toml_reader::NameRule driverNameRule{
    "a driver name", "1 to 64 of A-Z a-z 0-9 _ -", isValidDriverName};

std::string driverPath(std::string_view driver)
{
    if (!isValidDriverName(driver))
    {
        fail(Errc::InvalidArgument,
             "invalid driver name \"" + std::string(driver) +
                 "\": use 1-64 letters, digits, '_' or '-'");
    }
    return std::string(pciDrivers) + "/" + std::string(driver);
}

std::string driverFile(std::string_view driver, std::string_view file)
{
    return driverPath(driver) + "/" + std::string(file);
}

std::string iommuGroupDevices(int group)
{
    return "kernel/iommu_groups/" + std::to_string(group) + "/devices";
}

std::string moduleDrivers(std::string_view module)
{
    if (!isValidDriverName(module))
    {
        fail(Errc::InvalidArgument,
             "invalid module name \"" + std::string(module) + "\"");
    }
    return "module/" + std::string(module) + "/drivers";
}

std::string vfioGroupNode(int group)
{
    return "vfio/" + std::to_string(group);
}

std::string trim(std::string_view text)
{
    size_t b = 0;
    size_t e = text.size();
    while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\n'))
    {
        ++b;
    }
    while (e > b &&
           (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\n'))
    {
        --e;
    }
    return std::string(text.substr(b, e - b));
}

} // namespace vfiod::sysfs
