#include "sim/sim_sysfs_dirs.hpp"

#include <algorithm>

namespace vfiod::sim::tree
{

std::optional<SysEntry> driversChild(const Model& model, const SysDir&,
                                     std::string_view name)
{
    if (isRegistered(model, name))
    {
        SysDir target = dirAt(At::Driver);
        target.name = std::string(name);
        return dirEntry(target);
    }
    return std::nullopt;
}

void driversNames(const Model& model, const SysDir&,
                  std::vector<std::string>& names)
{
    names.insert(names.end(), model.registered.begin(), model.registered.end());
}

std::optional<SysEntry> driverChild(const Model& model, const SysDir& dir,
                                    std::string_view name)
{
    const Driver* driver = findDriver(model, dir.name);
    if (name == "module" && driver != nullptr)
    {
        SysDir target = dirAt(At::Module);
        target.name = driver->module;
        return linkEntry(target, driver->module);
    }
    std::optional<PciAddress> address = addressNamed(name);
    const Device* d = address ? findDevice(model, *address) : nullptr;
    if (d != nullptr && d->driver == dir.name)
    {
        return linkEntry(deviceDir(*address), std::string(name));
    }
    return std::nullopt;
}

void driverNames(const Model& model, const SysDir& dir,
                 std::vector<std::string>& names)
{
    // Listed even without a module record, which driverChild needs: kept
    // as it was when the tree was one switch.
    names.emplace_back("module");
    for (const auto& [address, d] : model.devices)
    {
        if (d.driver == dir.name)
        {
            names.push_back(address.str());
        }
    }
}

std::optional<SysEntry> modulesChild(const Model& model, const SysDir&,
                                     std::string_view name)
{
    const Module* m = findModule(model, name);
    if (m != nullptr && m->loaded && m->name == name)
    {
        SysDir target = dirAt(At::Module);
        target.name = std::string(name);
        return dirEntry(target);
    }
    return std::nullopt;
}

void modulesNames(const Model& model, const SysDir&,
                  std::vector<std::string>& names)
{
    for (const Module& m : model.modules)
    {
        if (m.loaded)
        {
            names.push_back(m.name);
        }
    }
}

std::optional<SysEntry> moduleChild(const Model& model, const SysDir& dir,
                                    std::string_view name)
{
    const Module* m = findModule(model, dir.name);
    if (name == "drivers" && m != nullptr && !m->drivers.empty())
    {
        SysDir target = dir;
        target.at = At::ModuleDrivers;
        return dirEntry(target);
    }
    return std::nullopt;
}

void moduleNames(const Model& model, const SysDir& dir,
                 std::vector<std::string>& names)
{
    if (const Module* m = findModule(model, dir.name);
        m != nullptr && !m->drivers.empty())
    {
        names.emplace_back("drivers");
    }
}

std::optional<SysEntry> moduleDriversChild(const Model& model,
                                           const SysDir& dir,
                                           std::string_view name)
{
    const Module* m = findModule(model, dir.name);
    if (m == nullptr || !name.starts_with("pci:"))
    {
        return std::nullopt;
    }
    std::string driver(name.substr(4));
    if (std::find(m->drivers.begin(), m->drivers.end(), driver) ==
        m->drivers.end())
    {
        return std::nullopt;
    }
    SysDir target = dirAt(At::Driver);
    target.name = driver;
    return linkEntry(target, driver);
}

void moduleDriversNames(const Model& model, const SysDir& dir,
                        std::vector<std::string>& names)
{
    if (const Module* m = findModule(model, dir.name))
    {
        for (const std::string& driver : m->drivers)
        {
            names.push_back("pci:" + driver);
        }
    }
}

} // namespace vfiod::sim::tree
