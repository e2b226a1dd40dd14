#include "sim/sim_host_file.hpp"

#include "base/error.hpp"
#include "base/toml_reader.hpp"
#include "kernel/migration_fsm.hpp"
#include "kernel/sysfs_layout.hpp"
#include "sim/sim_pci_ids.hpp"

#include <algorithm>
#include <set>
#include <span>

namespace vfiod::sim
{

namespace
{

constexpr int64_t maxDelayMs = 600000;

using toml_reader::IntRange;
using toml_reader::refuse;
using toml_reader::Table;

constexpr IntRange id16{0, 0xffff, true};

/// Module names follow the driver name rule; only the noun differs.
constexpr toml_reader::NameRule moduleName{
    "a module name", "1 to 64 of A-Z a-z 0-9 _ -", sysfs::isValidDriverName};

/** @brief Turns a toml++ document into a Model (the schema). */
class HostParser
{
  public:
    Model model(const Table& root);
    Device device(const Table& table, const Model& model, bool hotAdd);

  private:
    std::vector<std::string> resetMethods(const Table& table,
                                          std::string_view key) const;
    void parseModules(const Table& root, Model& model);
    void parseDrivers(const Table& root, Model& model);
    void parseDevices(const Table& root, Model& model);
    void checkVfRanges(const Model& model,
                       const std::map<PciAddress, Table>& where);
    void bootBindings(Model& model);
    void parseMigration(const Table& table, Device& d) const;
};

/** @brief A one-of for each element of a string array, empty when absent. */
std::vector<std::string> oneOfEach(const Table& table, std::string_view key,
                                   std::span<const std::string_view> choices)
{
    std::vector<std::string> out;
    if (const toml::node* node = table.find(key))
    {
        for (const toml::node& element :
             toml_reader::array(table.key(key), *node, "strings"))
        {
            out.push_back(toml_reader::oneOf(table.key(key), element, choices));
        }
    }
    return out;
}

std::vector<std::string> HostParser::resetMethods(const Table& table,
                                                  std::string_view key) const
{
    return oneOfEach(table, key, sysfs::resetMethods);
}

void HostParser::parseMigration(const Table& table, Device& d) const
{
    constexpr int64_t maxStateSize = int64_t{4} << 30;
    static constexpr std::string_view flagNames[] = {"stop_copy", "p2p",
                                                     "pre_copy"};
    std::vector<std::string> flags =
        oneOfEach(table, "migration_flags", flagNames);
    for (const std::string& flag : flags)
    {
        d.migrationFlags |= flag == "stop_copy" ? migration::StopCopyFlag
                            : flag == "p2p"     ? migration::P2PFlag
                                                : migration::PreCopyFlag;
    }
    if (!flags.empty() && !migration::flagsValid(d.migrationFlags))
    {
        // vfio_register_group_dev refuses a device without STOP_COPY.
        refuse(table.need("migration_flags"),
               "\"" + table.key("migration_flags") +
                   "\" must include \"stop_copy\"");
    }
    d.migrationStateSize = static_cast<uint64_t>(
        table.integer("migration_state_size", {16, maxStateSize})
            .value_or(65536));
    d.migrationContents = static_cast<uint64_t>(
        table.integer("migration_contents", {0, INT64_MAX}).value_or(0));
    if (flags.empty())
    {
        for (std::string_view key :
             {"migration_state_size", "migration_contents"})
        {
            if (const toml::node* node = table.find(key))
            {
                refuse(*node,
                       "\"" + table.key(key) + "\" needs \"migration_flags\"");
            }
        }
        d.migrationStateSize = 0;
    }
}

Model HostParser::model(const Table& root)
{
    root.only({"host", "module", "driver", "device"});
    Model model;
    model.kernelRelease = "6.1.0-sim";
    if (std::optional<Table> host = root.table("host"))
    {
        host->only({"kernel_release"});
        model.kernelRelease =
            host->string("kernel_release").value_or(model.kernelRelease);
    }
    parseModules(root, model);
    parseDrivers(root, model);
    parseDevices(root, model);
    return model;
}

void HostParser::parseModules(const Table& root, Model& model)
{
    std::vector<Table> modules = root.tables("module");
    std::set<std::string> driverSeen;
    for (const Table& table : modules)
    {
        table.only({"name", "drivers", "depends", "aliases", "loaded"});
        const toml::node& nameNode = table.need("name");
        std::string name =
            toml_reader::name(table.key("name"), nameNode, moduleName);
        if (findModule(model, name) != nullptr)
        {
            refuse(nameNode, "module \"" + name + "\" is described twice");
        }
        Module module;
        module.name = name;
        module.drivers = table.names("drivers", sysfs::driverNameRule);
        module.depends = table.names("depends", moduleName);
        module.aliases = table.strings("aliases");
        module.loaded = table.boolean("loaded").value_or(true);
        for (size_t i = 0; i < module.drivers.size(); ++i)
        {
            const std::string& d = module.drivers[i];
            if (driverSeen.contains(d))
            {
                refuse((*table.need("drivers").as_array())[i],
                       "driver \"" + d +
                           "\" is already provided by another module");
            }
            driverSeen.insert(d);
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
    for (size_t m = 0; m < modules.size(); ++m)
    {
        const std::vector<std::string>& depends = model.modules[m].depends;
        for (size_t i = 0; i < depends.size(); ++i)
        {
            if (findModule(model, depends[i]) == nullptr)
            {
                refuse((*modules[m].need("depends").as_array())[i],
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

void HostParser::parseDrivers(const Table& root, Model& model)
{
    std::set<std::string> seen;
    for (const Table& table : root.tables("driver"))
    {
        table.only(
            {"name", "ids", "override_only", "sriov", "driver_managed_dma"});
        const toml::node& nameNode = table.need("name");
        std::string name = toml_reader::string(table.key("name"), nameNode);
        Driver* driver = findDriver(model, name);
        if (driver == nullptr)
        {
            refuse(nameNode, "driver \"" + name +
                                 "\" is not provided by any module (list it "
                                 "in a [[module]]'s drivers)");
        }
        if (!seen.insert(name).second)
        {
            refuse(nameNode, "driver \"" + name + "\" is described twice");
        }
        if (const toml::node* ids = table.find("ids"))
        {
            for (const toml::node& element :
                 toml_reader::array(table.key("ids"), *ids, "strings"))
            {
                const std::string& text =
                    toml_reader::string(table.key("ids"), element);
                std::optional<IdMatch> id = parseIdSpec(text);
                if (!id)
                {
                    refuse(element,
                           "bad id \"" + text +
                               "\": use \"VVVV:DDDD\", \"VVVV:DDDD:SSSS:TTTT\" "
                               "(ffff = any), optionally followed by \" "
                               "class:CCCCCC/MMMMMM\", or the class part "
                               "alone");
                }
                driver->ids.push_back(*id);
            }
        }
        driver->overrideOnly =
            table.boolean("override_only").value_or(driver->overrideOnly);
        driver->sriov = table.boolean("sriov").value_or(driver->sriov);
        driver->managedDma =
            table.boolean("driver_managed_dma").value_or(driver->managedDma);
    }
}

Device HostParser::device(const Table& table, const Model& model, bool hotAdd)
{
    table.only({"address",
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
                "migration_contents"});
    Device d;
    const toml::node& address = table.need("address");
    const std::string& addressText =
        toml_reader::string(table.key("address"), address);
    try
    {
        d.address = PciAddress::parse(addressText);
    }
    catch (const Error& e)
    {
        refuse(address, e.what());
    }
    auto required = [&](std::string_view key, IntRange range) {
        return toml_reader::integer(table.key(key), table.need(key), range);
    };
    d.vendor = static_cast<uint16_t>(required("vendor", id16));
    d.device = static_cast<uint16_t>(required("device", id16));
    d.subvendor = static_cast<uint16_t>(
        table.integer("subsystem_vendor", id16).value_or(d.vendor));
    d.subdevice = static_cast<uint16_t>(
        table.integer("subsystem_device", id16).value_or(d.device));
    d.classCode = static_cast<uint32_t>(required("class", {0, 0xffffff, true}));
    d.revision = static_cast<uint8_t>(
        table.integer("revision", {0, 0xff, true}).value_or(0));
    d.headerType =
        static_cast<uint8_t>(table.integer("header_type", {0, 2}).value_or(0));
    d.iommuGroup = static_cast<int>(
        table.integer("iommu_group", {0, 0x7fffffff}).value_or(-1));
    d.numaNode =
        static_cast<int>(table.integer("numa_node", {-1, 1023}).value_or(-1));
    d.resetSupported = resetMethods(table, "reset_methods");
    d.resetEnabled = d.resetSupported;

    d.sriovTotalVfs = static_cast<unsigned>(
        table.integer("sriov_totalvfs", {0, 0xffff}).value_or(0));
    std::optional<int64_t> vfDevice = table.integer("sriov_vf_device", id16);
    if (d.sriovTotalVfs > 0 && !vfDevice)
    {
        refuse(table.need("sriov_totalvfs"),
               "an SR-IOV device (sriov_totalvfs > 0) needs "
               "\"sriov_vf_device\"");
    }
    d.sriovVfDevice = static_cast<uint16_t>(vfDevice.value_or(0));
    d.sriovOffset = static_cast<unsigned>(
        table.integer("sriov_offset", {1, 0xffff}).value_or(1));
    d.sriovStride = static_cast<unsigned>(
        table.integer("sriov_stride", {0, 0xffff}).value_or(1));
    static constexpr std::string_view vfGroups[] = {"own", "pf", "none"};
    if (std::optional<std::string> group =
            table.oneOf("sriov_vf_group", vfGroups))
    {
        d.sriovVfGroup = *group == "own"  ? VfGroup::Own
                         : *group == "pf" ? VfGroup::Pf
                                          : VfGroup::None;
    }
    if (table.find("sriov_vf_reset_methods") != nullptr)
    {
        d.sriovVfResetMethods = resetMethods(table, "sriov_vf_reset_methods");
    }
    else if (d.sriovTotalVfs > 0)
    {
        d.sriovVfResetMethods = {"flr"}; // VFs must implement FLR
    }
    d.sriovAutoprobe = table.boolean("sriov_drivers_autoprobe").value_or(true);
    if (d.sriovTotalVfs == 0)
    {
        for (std::string_view key :
             {"sriov_vf_device", "sriov_offset", "sriov_stride",
              "sriov_vf_group", "sriov_vf_reset_methods",
              "sriov_drivers_autoprobe"})
        {
            if (const toml::node* node = table.find(key))
            {
                refuse(*node,
                       "\"" + table.key(key) + "\" needs sriov_totalvfs > 0");
            }
        }
    }

    parseMigration(table, d);

    d.failProbe = table.names("fail_probe", sysfs::driverNameRule);
    d.failReset = resetMethods(table, "fail_reset");
    d.resetDelayMs = static_cast<unsigned>(
        table.milliseconds("reset_delay_ms", 0, maxDelayMs)
            .value_or(std::chrono::milliseconds(0))
            .count());
    d.unbindDelayMs = static_cast<unsigned>(
        table.milliseconds("unbind_delay_ms", 0, maxDelayMs)
            .value_or(std::chrono::milliseconds(0))
            .count());

    if (std::optional<std::string> driver = table.string("driver"))
    {
        const toml::node& node = table.need("driver");
        if (hotAdd)
        {
            refuse(node, "a hot-added device is probed like the kernel does; "
                         "\"driver\" is only for devices present at boot");
        }
        if (!isRegistered(model, *driver))
        {
            refuse(node, "driver \"" + *driver +
                             "\" is not registered by any loaded module");
        }
        if (isVfioDriverName(*driver) &&
            (d.headerType != 0 || d.iommuGroup < 0))
        {
            refuse(node, "a device without an IOMMU group or with a "
                         "non-normal header cannot be bound to " +
                             *driver);
        }
        d.driver = *driver;
    }
    return d;
}

void HostParser::parseDevices(const Table& root, Model& model)
{
    std::map<PciAddress, Table> where;
    for (const Table& table : root.tables("device"))
    {
        Device d = device(table, model, false);
        if (where.contains(d.address))
        {
            refuse(table.need("address"),
                   "duplicate device address " + d.address.str());
        }
        where.emplace(d.address, table);
        model.devices.emplace(d.address, std::move(d));
    }
    checkVfRanges(model, where);
    bootBindings(model);
}

void HostParser::checkVfRanges(const Model& model,
                               const std::map<PciAddress, Table>& where)
{
    for (const auto& [address, pf] : model.devices)
    {
        for (unsigned i = 0; i < pf.sriovTotalVfs; ++i)
        {
            const toml::node& total = where.at(address).need("sriov_totalvfs");
            std::optional<PciAddress> vf = vfAddress(pf, i);
            if (!vf)
            {
                refuse(total, "VF " + std::to_string(i) + " of " +
                                  address.str() +
                                  " would lie beyond bus ff (check "
                                  "sriov_offset and sriov_stride)");
            }
            if (model.devices.contains(*vf))
            {
                refuse(total,
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
    return parseHostText(toml_reader::readFile(path, "host description file"),
                         path);
}

Model parseHostText(std::string_view text, const std::string& sourceName)
{
    toml::table root = toml_reader::parse(text, sourceName);
    return HostParser().model(Table("", root));
}

Device parseDeviceText(std::string_view text, const std::string& sourceName,
                       const Model& model)
{
    toml::table root = toml_reader::parse(text, sourceName);
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
    return HostParser().device(Table("device", *table), model, true);
}

} // namespace vfiod::sim
