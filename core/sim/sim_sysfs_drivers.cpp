#include "sim/sim_sysfs_dirs.hpp"

#include <algorithm>

namespace vfiod::sim::tree
{

namespace
{

std::optional<SysEntry> driversChild(const Model& model, const SysDir&,
                                     std::string_view name)
{
    if (isRegistered(model, name))
    {
        return dirEntry(namedDir(At::Driver, name));
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
        return linkEntry(namedDir(At::Module, driver->module), driver->module);
    }
    return deviceLinkNamed(
        model, name, [&](const Device& d) { return d.driver == dir.name; });
}

void driverNames(const Model& model, const SysDir& dir,
                 std::vector<std::string>& names)
{
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
        return dirEntry(namedDir(At::Module, name));
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
    return linkEntry(namedDir(At::Driver, driver), driver);
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

} // namespace

const DirContents driversContents{driversChild, driversNames};
const DirContents driverContents{driverChild, driverNames};
const DirContents modulesContents{modulesChild, modulesNames};
const DirContents moduleContents{moduleChild, moduleNames};
const DirContents moduleDriversContents{moduleDriversChild, moduleDriversNames};

} // namespace vfiod::sim::tree
