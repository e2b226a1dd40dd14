#include "sim/sim_host_file.hpp"

#include "base/error.hpp"
#include "kernel/migration_fsm.hpp"
#include "sim/sim_pci_ids.hpp"
#include "sim/sim_toml_reader.hpp"
#include "kernel/sysfs_layout.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

namespace vfiod::sim
{

namespace
{

constexpr std::string_view hostKeys[] = {"kernel_release"};
constexpr std::string_view moduleKeys[] = {"name", "drivers", "depends",
                                           "aliases", "loaded"};
constexpr std::string_view driverKeys[] = {"name", "ids", "override_only",
                                           "sriov", "driver_managed_dma"};
constexpr std::string_view deviceKeys[] = {"address",
                                           "vendor",
                                           "device",
                                           "subsystem_vendor",
                                           "subsystem_device",
                                           "class",
                                           "revision",
                                           "header_type",
                                           "iommu_group",
                                           "driver",
                                           "numa_node",
                                           "reset_methods",
                                           "sriov_totalvfs",
                                           "sriov_vf_device",
                                           "sriov_offset",
                                           "sriov_stride",
                                           "sriov_vf_group",
                                           "sriov_vf_reset_methods",
                                           "sriov_drivers_autoprobe",
                                           "fail_probe",
                                           "fail_reset",
                                           "reset_delay_ms",
                                           "unbind_delay_ms",
                                           "migration_flags",
                                           "migration_state_size",
                                           "migration_contents"};

constexpr int64_t maxDelayMs = 600000;

/** @brief Turns a toml++ document into a Model (the schema). */
class HostParser
{
  public:
    explicit HostParser(std::string sourceName) : in(std::move(sourceName)) {}

    toml::table parse(std::string_view text) const
    {
        return in.parse(text);
    }

    Model model(const toml::table& root);
    Device device(const toml::table& table, const Model& model, bool hotAdd);

  private:
    std::vector<std::string> resetMethods(const toml::table& table,
                                          std::string_view key) const;
    void parseModules(const toml::table& root, Model& model);
    void parseDrivers(const toml::table& root, Model& model);
    void parseDevices(const toml::table& root, Model& model);
    void checkVfRanges(const Model& model,
                       const std::map<PciAddress, const toml::table*>& where);
    void bootBindings(Model& model);
    void parseMigration(const toml::table& table, Device& d) const;

    TomlReader in;
};

std::vector<std::string> HostParser::resetMethods(const toml::table& table,
                                                  std::string_view key) const
{
    std::vector<std::string> out = in.strings(table, key);
    const auto& known = knownResetMethods();
    for (size_t i = 0; i < out.size(); ++i)
    {
        if (std::find(known.begin(), known.end(), out[i]) == known.end())
        {
            in.failAt(in.element(table, key, i).source(),
                      "unknown reset method \"" + out[i] +
                          "\" (known: device_specific acpi flr af_flr pm bus "
                          "cxl_bus)");
        }
    }
    return out;
}

void HostParser::parseMigration(const toml::table& table, Device& d) const
{
    constexpr int64_t maxStateSize = int64_t{4} << 30;
    std::vector<std::string> flags = in.strings(table, "migration_flags");
    for (size_t i = 0; i < flags.size(); ++i)
    {
        if (flags[i] == "stop_copy")
        {
            d.migrationFlags |= migration::StopCopyFlag;
        }
        else if (flags[i] == "p2p")
        {
            d.migrationFlags |= migration::P2PFlag;
        }
        else if (flags[i] == "pre_copy")
        {
            d.migrationFlags |= migration::PreCopyFlag;
        }
        else
        {
            in.failAt(in.element(table, "migration_flags", i).source(),
                      "unknown migration flag \"" + flags[i] +
                          "\" (known: stop_copy p2p pre_copy)");
        }
    }
    if (!flags.empty() && !migration::flagsValid(d.migrationFlags))
    {
        // vfio_register_group_dev refuses a device without STOP_COPY.
        in.failAt(in.node(table, "migration_flags").source(),
                  "\"migration_flags\" must include \"stop_copy\"");
    }
    d.migrationStateSize = static_cast<uint64_t>(
        in.integer(table, "migration_state_size", 16, maxStateSize)
            .value_or(65536));
    d.migrationContents = static_cast<uint64_t>(
        in.integer(table, "migration_contents", 0, INT64_MAX).value_or(0));
    if (flags.empty())
    {
        for (std::string_view key :
             {"migration_state_size", "migration_contents"})
        {
            if (table.get(key) != nullptr)
            {
                in.failAt(in.node(table, key).source(),
                          "\"" + std::string(key) +
                              "\" needs \"migration_flags\"");
            }
        }
        d.migrationStateSize = 0;
    }
}

Model HostParser::model(const toml::table& root)
{
    static constexpr std::string_view rootKeys[] = {"host", "module", "driver",
                                                    "device"};
    in.checkKeys(root, rootKeys, "the host file");
    Model model;
    model.kernelRelease = "6.1.0-sim";
    if (const toml::node* host = root.get("host"))
    {
        const toml::table& table = in.asTable(*host, "[host]");
        in.checkKeys(table, hostKeys, "[host]");
        model.kernelRelease =
            in.string(table, "kernel_release").value_or(model.kernelRelease);
    }
    parseModules(root, model);
    parseDrivers(root, model);
    parseDevices(root, model);
    return model;
}

void HostParser::parseModules(const toml::table& root, Model& model)
{
    const toml::array* modules = in.tableArray(root, "module");
    if (modules == nullptr)
    {
        return;
    }
    std::map<std::string, const toml::table*> driverSeen;
    for (const toml::node& entry : *modules)
    {
        const toml::table& table = in.asTable(entry, "[[module]]");
        in.checkKeys(table, moduleKeys, "[[module]]");
        std::optional<std::string> name = in.string(table, "name");
        if (!name)
        {
            in.failAt(table.source(), "[[module]] needs a \"name\"");
        }
        if (!sysfs::isValidDriverName(*name))
        {
            in.failAt(in.node(table, "name").source(),
                      "invalid module name \"" + *name + "\"");
        }
        if (findModule(model, *name) != nullptr)
        {
            in.failAt(in.node(table, "name").source(),
                      "module \"" + *name + "\" is described twice");
        }
        Module module;
        module.name = *name;
        module.drivers = in.names(table, "drivers");
        module.depends = in.names(table, "depends");
        module.aliases = in.strings(table, "aliases");
        module.loaded = in.boolean(table, "loaded").value_or(true);
        for (size_t i = 0; i < module.drivers.size(); ++i)
        {
            const std::string& d = module.drivers[i];
            if (driverSeen.contains(d))
            {
                in.failAt(in.element(table, "drivers", i).source(),
                          "driver \"" + d +
                              "\" is already provided by another module");
            }
            driverSeen[d] = &table;
            Driver driver;
            driver.name = d;
            driver.module = module.name;
            driver.overrideOnly = isVfioDriverName(d);
            driver.sriov = isVfioDriverName(d);
            driver.managedDma =
                isVfioDriverName(d) || d == "pci-stub" || d == "pcieport";
            model.drivers.push_back(std::move(driver));
        }
        model.modules.push_back(std::move(module));
    }
    // Dependencies must name described modules.
    for (const toml::node& entry : *modules)
    {
        const toml::table& table = *entry.as_table();
        std::vector<std::string> depends = in.strings(table, "depends");
        for (size_t i = 0; i < depends.size(); ++i)
        {
            if (findModule(model, depends[i]) == nullptr)
            {
                in.failAt(in.element(table, "depends", i).source(),
                          "module \"" + depends[i] + "\" is not described");
            }
        }
    }
    // Boot: loaded modules pull in their dependencies, then the drivers
    // register in host file order.
    std::vector<Module*> stack;
    for (Module& module : model.modules)
    {
        if (module.loaded)
        {
            stack.push_back(&module);
        }
    }
    while (!stack.empty())
    {
        Module* module = stack.back();
        stack.pop_back();
        module->loaded = true;
        for (const std::string& dep : module->depends)
        {
            Module* d = findModule(model, dep);
            if (!d->loaded)
            {
                stack.push_back(d);
            }
        }
    }
    for (const Module& module : model.modules)
    {
        if (module.loaded)
        {
            model.registered.insert(model.registered.end(),
                                    module.drivers.begin(),
                                    module.drivers.end());
        }
    }
}

void HostParser::parseDrivers(const toml::table& root, Model& model)
{
    const toml::array* drivers = in.tableArray(root, "driver");
    if (drivers == nullptr)
    {
        return;
    }
    std::set<std::string> seen;
    for (const toml::node& entry : *drivers)
    {
        const toml::table& table = in.asTable(entry, "[[driver]]");
        in.checkKeys(table, driverKeys, "[[driver]]");
        std::optional<std::string> name = in.string(table, "name");
        if (!name)
        {
            in.failAt(table.source(), "[[driver]] needs a \"name\"");
        }
        Driver* driver = findDriver(model, *name);
        if (driver == nullptr)
        {
            in.failAt(in.node(table, "name").source(),
                      "driver \"" + *name +
                          "\" is not provided by any module (list it in a "
                          "[[module]]'s drivers)");
        }
        if (!seen.insert(*name).second)
        {
            in.failAt(in.node(table, "name").source(),
                      "driver \"" + *name + "\" is described twice");
        }
        std::vector<std::string> ids = in.strings(table, "ids");
        for (size_t i = 0; i < ids.size(); ++i)
        {
            std::optional<IdMatch> id = parseIdSpec(ids[i]);
            if (!id)
            {
                in.failAt(in.element(table, "ids", i).source(),
                          "bad id \"" + ids[i] +
                              "\": use \"VVVV:DDDD\", \"VVVV:DDDD:SSSS:TTTT\" "
                              "(ffff = any), optionally followed by \" "
                              "class:CCCCCC/MMMMMM\", or the class part alone");
            }
            driver->ids.push_back(*id);
        }
        driver->overrideOnly =
            in.boolean(table, "override_only").value_or(driver->overrideOnly);
        driver->sriov = in.boolean(table, "sriov").value_or(driver->sriov);
        driver->managedDma = in.boolean(table, "driver_managed_dma")
                                 .value_or(driver->managedDma);
    }
}

Device HostParser::device(const toml::table& table, const Model& model,
                          bool hotAdd)
{
    in.checkKeys(table, deviceKeys, "[[device]]");
    Device d;
    std::optional<std::string> address = in.string(table, "address");
    if (!address)
    {
        in.failAt(table.source(), "missing required key \"address\"");
    }
    try
    {
        d.address = PciAddress::parse(*address);
    }
    catch (const Error& e)
    {
        in.failAt(in.node(table, "address").source(), e.what());
    }
    d.vendor = static_cast<uint16_t>(in.required(table, "vendor", 0, 0xffff));
    d.device = static_cast<uint16_t>(in.required(table, "device", 0, 0xffff));
    d.subvendor = static_cast<uint16_t>(
        in.integer(table, "subsystem_vendor", 0, 0xffff).value_or(d.vendor));
    d.subdevice = static_cast<uint16_t>(
        in.integer(table, "subsystem_device", 0, 0xffff).value_or(d.device));
    d.classCode =
        static_cast<uint32_t>(in.required(table, "class", 0, 0xffffff));
    d.revision = static_cast<uint8_t>(
        in.integer(table, "revision", 0, 0xff).value_or(0));
    d.headerType = static_cast<uint8_t>(
        in.integer(table, "header_type", 0, 2).value_or(0));
    d.iommuGroup = static_cast<int>(
        in.integer(table, "iommu_group", 0, 0x7fffffff).value_or(-1));
    d.numaNode =
        static_cast<int>(in.integer(table, "numa_node", -1, 1023).value_or(-1));
    d.resetSupported = resetMethods(table, "reset_methods");
    d.resetEnabled = d.resetSupported;

    d.sriovTotalVfs = static_cast<unsigned>(
        in.integer(table, "sriov_totalvfs", 0, 0xffff).value_or(0));
    std::optional<int64_t> vfDevice =
        in.integer(table, "sriov_vf_device", 0, 0xffff);
    if (d.sriovTotalVfs > 0 && !vfDevice)
    {
        in.failAt(in.node(table, "sriov_totalvfs").source(),
                  "an SR-IOV device (sriov_totalvfs > 0) needs "
                  "\"sriov_vf_device\"");
    }
    d.sriovVfDevice = static_cast<uint16_t>(vfDevice.value_or(0));
    d.sriovOffset = static_cast<unsigned>(
        in.integer(table, "sriov_offset", 1, 0xffff).value_or(1));
    d.sriovStride = static_cast<unsigned>(
        in.integer(table, "sriov_stride", 0, 0xffff).value_or(1));
    if (std::optional<std::string> group = in.string(table, "sriov_vf_group"))
    {
        if (*group == "own")
        {
            d.sriovVfGroup = VfGroup::Own;
        }
        else if (*group == "pf")
        {
            d.sriovVfGroup = VfGroup::Pf;
        }
        else if (*group == "none")
        {
            d.sriovVfGroup = VfGroup::None;
        }
        else
        {
            in.failAt(in.node(table, "sriov_vf_group").source(),
                      "\"sriov_vf_group\" must be \"own\", \"pf\" or \"none\"");
        }
    }
    if (table.get("sriov_vf_reset_methods") != nullptr)
    {
        d.sriovVfResetMethods = resetMethods(table, "sriov_vf_reset_methods");
    }
    else if (d.sriovTotalVfs > 0)
    {
        d.sriovVfResetMethods = {"flr"}; // VFs must implement FLR
    }
    d.sriovAutoprobe =
        in.boolean(table, "sriov_drivers_autoprobe").value_or(true);
    if (d.sriovTotalVfs == 0)
    {
        for (std::string_view key :
             {"sriov_vf_device", "sriov_offset", "sriov_stride",
              "sriov_vf_group", "sriov_vf_reset_methods",
              "sriov_drivers_autoprobe"})
        {
            if (table.get(key) != nullptr)
            {
                in.failAt(in.node(table, key).source(),
                          "\"" + std::string(key) +
                              "\" needs sriov_totalvfs > 0");
            }
        }
    }

    parseMigration(table, d);

    d.failProbe = in.names(table, "fail_probe");
    d.failReset = resetMethods(table, "fail_reset");
    d.resetDelayMs = static_cast<unsigned>(
        in.integer(table, "reset_delay_ms", 0, maxDelayMs).value_or(0));
    d.unbindDelayMs = static_cast<unsigned>(
        in.integer(table, "unbind_delay_ms", 0, maxDelayMs).value_or(0));

    if (std::optional<std::string> driver = in.string(table, "driver"))
    {
        if (hotAdd)
        {
            in.failAt(in.node(table, "driver").source(),
                      "a hot-added device is probed like the kernel does; "
                      "\"driver\" is only for devices present at boot");
        }
        if (!isRegistered(model, *driver))
        {
            in.failAt(in.node(table, "driver").source(),
                      "driver \"" + *driver +
                          "\" is not registered by any loaded module");
        }
        if (isVfioDriverName(*driver) &&
            (d.headerType != 0 || d.iommuGroup < 0))
        {
            in.failAt(in.node(table, "driver").source(),
                      "a device without an IOMMU group or with a non-normal "
                      "header cannot be bound to " +
                          *driver);
        }
        d.driver = *driver;
    }
    return d;
}

void HostParser::parseDevices(const toml::table& root, Model& model)
{
    const toml::array* devices = in.tableArray(root, "device");
    if (devices == nullptr)
    {
        return;
    }
    std::map<PciAddress, const toml::table*> where;
    for (const toml::node& entry : *devices)
    {
        const toml::table& table = in.asTable(entry, "[[device]]");
        Device d = device(table, model, false);
        if (where.contains(d.address))
        {
            in.failAt(in.node(table, "address").source(),
                      "duplicate device address " + d.address.str());
        }
        where[d.address] = &table;
        model.devices.emplace(d.address, std::move(d));
    }
    checkVfRanges(model, where);
    bootBindings(model);
}

void HostParser::checkVfRanges(
    const Model& model, const std::map<PciAddress, const toml::table*>& where)
{
    for (const auto& [address, pf] : model.devices)
    {
        for (unsigned i = 0; i < pf.sriovTotalVfs; ++i)
        {
            const toml::node& total =
                in.node(*where.at(address), "sriov_totalvfs");
            std::optional<PciAddress> vf = vfAddress(pf, i);
            if (!vf)
            {
                in.failAt(total.source(),
                          "VF " + std::to_string(i) + " of " + address.str() +
                              " would lie beyond bus ff (check sriov_offset "
                              "and sriov_stride)");
            }
            if (model.devices.contains(*vf))
            {
                in.failAt(total.source(),
                          "VF " + std::to_string(i) + " of " + address.str() +
                              " would take the address of device " + vf->str());
            }
        }
    }
}

void HostParser::bootBindings(Model& model)
{
    // vfio-bound at boot: give each its vfio-dev index in address order.
    int next = 0;
    for (auto& [address, d] : model.devices)
    {
        if (isVfioDriverName(d.driver))
        {
            d.vfioDev = next++;
        }
    }
}

} // namespace

Model loadHostFile(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
    {
        fail(Errc::InvalidArgument,
             path + ":1:1: cannot open the host description file");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parseHostText(text.str(), path);
}

Model parseHostText(std::string_view text, const std::string& sourceName)
{
    HostParser parser(sourceName);
    toml::table root = parser.parse(text);
    return parser.model(root);
}

Device parseDeviceText(std::string_view text, const std::string& sourceName,
                       const Model& model)
{
    HostParser parser(sourceName);
    toml::table root = parser.parse(text);
    const toml::table* table = &root;
    if (const toml::node* wrapped = root.get("device"))
    {
        const toml::array* array = wrapped->as_array();
        if (root.size() == 1 && array != nullptr && array->size() == 1 &&
            (*array)[0].is_table())
        {
            table = (*array)[0].as_table();
        }
    }
    return parser.device(*table, model, true);
}

} // namespace vfiod::sim
