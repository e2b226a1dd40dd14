/**
 * vfiod-sim: acts on a simulated kernel (a SimHost state directory) the
 * way an administrator or the hardware would: sysfs writes, hotplug,
 * processes opening devices through vfio. Meant for scripts and for
 * poking at a daemon running on the sim backend.
 */

#include "base/error.hpp"
#include "base/pci_address.hpp"
#include "sim/sim_host.hpp"
#include "sim/sim_state_store.hpp"
#include "sim/sim_uevent_log.hpp"
#include "kernel/sysfs_layout.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace
{

using vfiod::PciAddress;
using vfiod::SimHost;

constexpr const char* usage =
    R"(usage: vfiod-sim --state DIR [--host FILE] COMMAND [ARGS]

Commands:
  init                    create the state from --host (replacing any)
  list                    every device: address, ids, class, driver, group
  show ADDR               every attribute and link of a device
  add 'TOML' | add --file F
                          hot-add a device ([[device]] keys)
  remove ADDR             surprise-remove a device (and its VFs)
  set-numvfs PF N         write N to the PF's sriov_numvfs
  bind ADDR DRIVER        write ADDR to bus/pci/drivers/DRIVER/bind
  unbind ADDR             write ADDR to its driver's unbind
  override ADDR DRIVER|'' write driver_override ('' clears it)
  probe ADDR              write ADDR to bus/pci/drivers_probe
  reset ADDR              write 1 to the device's reset
  modprobe MODULE         load a module
  open ADDR | close ADDR  a process opens/closes the device through vfio
  events                  print the uevent log
  read PATH               print a sysfs file (PATH relative to /sys)
  write PATH VALUE        write a sysfs file

The state directory is created from --host when it holds no state yet.
)";

/** @brief A failure already worded for the user. */
struct ToolError
{
    std::string message;
};

std::string errnoText(int code)
{
    const char* name = ::strerrorname_np(code);
    return std::string(name != nullptr ? name : "E?") + " (" +
           std::strerror(code) + ")";
}

std::string sysPath(std::string path)
{
    if (path.starts_with("/sys/"))
    {
        path.erase(0, 5);
    }
    return path;
}

std::string readAttr(SimHost& host, const std::string& path)
{
    try
    {
        std::optional<std::string> text = host.read(path);
        if (!text)
        {
            throw ToolError{"read " + path + ": " + errnoText(ENOENT)};
        }
        return *text;
    }
    catch (const std::system_error& e)
    {
        throw ToolError{"read " + path + ": " + errnoText(e.code().value())};
    }
}

void writeAttr(SimHost& host, const std::string& path, const std::string& value)
{
    try
    {
        host.write(path, value);
    }
    catch (const std::system_error& e)
    {
        throw ToolError{"write " + path + ": " + errnoText(e.code().value())};
    }
}

std::string orDash(const std::optional<std::string>& text)
{
    return text && !text->empty() ? *text : "-";
}

/** @brief "0x8086\n" -> "8086". */
std::string bareHex(const std::string& text)
{
    std::string out = vfiod::sysfs::trim(text);
    return out.starts_with("0x") ? out.substr(2) : out;
}

void listDevices(SimHost& host)
{
    for (const std::string& name : host.list("bus/pci/devices"))
    {
        std::string base = "bus/pci/devices/" + name + "/";
        std::printf("%s  %s:%s  %s  %-14s group %s\n", name.c_str(),
                    bareHex(readAttr(host, base + "vendor")).c_str(),
                    bareHex(readAttr(host, base + "device")).c_str(),
                    bareHex(readAttr(host, base + "class")).c_str(),
                    orDash(host.readLinkName(base + "driver")).c_str(),
                    orDash(host.readLinkName(base + "iommu_group")).c_str());
    }
}

void showDevice(SimHost& host, const PciAddress& address)
{
    std::string dir = vfiod::sysfs::devicePath(address);
    if (!host.exists(dir))
    {
        throw ToolError{address.str() + ": no such device"};
    }
    std::vector<std::string> names = host.list(dir);
    names.emplace_back("sim_reset_count");
    for (const std::string& name : names)
    {
        std::string path = dir + "/" + name;
        if (std::optional<std::string> target = host.readLinkName(path))
        {
            std::printf("%s -> %s\n", name.c_str(), target->c_str());
            continue;
        }
        if (!host.list(path).empty())
        {
            std::printf("%s/\n", name.c_str());
            continue;
        }
        try
        {
            std::string value = host.read(path).value_or("");
            if (name == "config")
            {
                std::string hex;
                for (size_t i = 0; i < 64 && i < value.size(); ++i)
                {
                    char byte[4];
                    std::snprintf(byte, sizeof byte, "%02x",
                                  static_cast<unsigned char>(value[i]));
                    hex += byte;
                }
                value =
                    hex + "... (" + std::to_string(value.size()) + " bytes)";
            }
            std::printf("%s: %s\n", name.c_str(),
                        vfiod::sysfs::trim(value).c_str());
        }
        catch (const std::system_error& e)
        {
            std::printf("%s: (%s)\n", name.c_str(),
                        e.code().value() == EACCES
                            ? "write-only"
                            : errnoText(e.code().value()).c_str());
        }
    }
}

void printEvents(const std::string& stateDir)
{
    vfiod::sim::SimUeventLog log(
        vfiod::sim::SimStateStore(stateDir).ueventLogPath());
    for (const vfiod::Uevent& e : log.readAll())
    {
        std::printf("%llu %s %s %s %s",
                    static_cast<unsigned long long>(e.seqnum), e.action.c_str(),
                    e.subsystem.c_str(), e.sysname.c_str(), e.devpath.c_str());
        if (!e.driver.empty())
        {
            std::printf(" DRIVER=%s", e.driver.c_str());
        }
        std::printf("\n");
    }
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
    {
        throw ToolError{"cannot read " + path};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/** @brief The parsed command line. */
struct Options
{
    std::string state;
    std::string host;
    std::vector<std::string> args; ///< command and its arguments
};

Options parseOptions(int argc, char** argv)
{
    Options options;
    for (int i = 1; i < argc; ++i)
    {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
            {
                throw ToolError{arg + " needs a value"};
            }
            return argv[++i];
        };
        if (!options.args.empty())
        {
            options.args.push_back(arg);
        }
        else if (arg == "--state")
        {
            options.state = value();
        }
        else if (arg == "--host")
        {
            options.host = value();
        }
        else if (arg.starts_with("--state="))
        {
            options.state = arg.substr(8);
        }
        else if (arg.starts_with("--host="))
        {
            options.host = arg.substr(7);
        }
        else if (arg == "-h" || arg == "--help")
        {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        else if (arg.starts_with("-"))
        {
            throw ToolError{"unknown option " + arg};
        }
        else
        {
            options.args.push_back(arg);
        }
    }
    if (options.state.empty() || options.args.empty())
    {
        std::fputs(usage, stderr);
        std::exit(2);
    }
    return options;
}

void needArgs(const Options& options, size_t count, const char* form)
{
    if (options.args.size() != count + 1)
    {
        throw ToolError{std::string("usage: vfiod-sim --state DIR ") + form};
    }
}

std::string driverOf(SimHost& host, const PciAddress& address)
{
    std::optional<std::string> driver =
        host.readLinkName(vfiod::sysfs::deviceAttr(address, "driver"));
    if (!driver)
    {
        throw ToolError{"unbind " + address.str() + ": it is not bound"};
    }
    return *driver;
}

int run(const Options& options)
{
    const std::string& cmd = options.args[0];
    const std::vector<std::string>& a = options.args;
    if (cmd == "init")
    {
        needArgs(options, 0, "--host FILE init");
        if (options.host.empty())
        {
            throw ToolError{"init needs --host FILE"};
        }
        {
            vfiod::sim::SimStateStore store(options.state);
            auto lock = store.lockExclusive();
            store.wipe();
        }
        SimHost host(options.host, options.state);
        return 0;
    }
    if (cmd == "events")
    {
        needArgs(options, 0, "events");
        SimHost host(options.host, options.state); // creates it if needed
        printEvents(options.state);
        return 0;
    }
    SimHost host(options.host, options.state);
    auto address = [&](size_t i) { return PciAddress::parse(a.at(i)); };
    if (cmd == "list")
    {
        needArgs(options, 0, "list");
        listDevices(host);
    }
    else if (cmd == "show")
    {
        needArgs(options, 1, "show ADDR");
        showDevice(host, address(1));
    }
    else if (cmd == "add")
    {
        if (a.size() == 3 && a[1] == "--file")
        {
            host.hotAdd(readFile(a[2]));
        }
        else
        {
            needArgs(options, 1, "add 'TOML' | add --file FILE");
            host.hotAdd(a[1]);
        }
    }
    else if (cmd == "remove")
    {
        needArgs(options, 1, "remove ADDR");
        host.hotRemove(address(1));
    }
    else if (cmd == "set-numvfs")
    {
        needArgs(options, 2, "set-numvfs PF N");
        writeAttr(host, vfiod::sysfs::deviceAttr(address(1), "sriov_numvfs"),
                  a[2]);
    }
    else if (cmd == "bind")
    {
        needArgs(options, 2, "bind ADDR DRIVER");
        writeAttr(host, vfiod::sysfs::driverFile(a[2], "bind"),
                  address(1).str());
    }
    else if (cmd == "unbind")
    {
        needArgs(options, 1, "unbind ADDR");
        writeAttr(
            host,
            vfiod::sysfs::driverFile(driverOf(host, address(1)), "unbind"),
            address(1).str());
    }
    else if (cmd == "override")
    {
        needArgs(options, 2, "override ADDR DRIVER|''");
        writeAttr(host, vfiod::sysfs::deviceAttr(address(1), "driver_override"),
                  a[2].empty() ? "\n" : a[2]);
    }
    else if (cmd == "probe")
    {
        needArgs(options, 1, "probe ADDR");
        writeAttr(host, std::string(vfiod::sysfs::driversProbe),
                  address(1).str());
    }
    else if (cmd == "reset")
    {
        needArgs(options, 1, "reset ADDR");
        writeAttr(host, vfiod::sysfs::deviceAttr(address(1), "reset"), "1");
    }
    else if (cmd == "modprobe")
    {
        needArgs(options, 1, "modprobe MODULE");
        host.modprobe(a[1]);
    }
    else if (cmd == "open")
    {
        needArgs(options, 1, "open ADDR");
        host.openDevice(address(1));
    }
    else if (cmd == "close")
    {
        needArgs(options, 1, "close ADDR");
        host.closeDevice(address(1));
    }
    else if (cmd == "read")
    {
        needArgs(options, 1, "read PATH");
        std::string text = readAttr(host, sysPath(a[1]));
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    else if (cmd == "write")
    {
        needArgs(options, 2, "write PATH VALUE");
        writeAttr(host, sysPath(a[1]), a[2]);
    }
    else
    {
        throw ToolError{"unknown command \"" + cmd + "\" (see --help)"};
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try
    {
        return run(parseOptions(argc, argv));
    }
    catch (const ToolError& e)
    {
        std::fprintf(stderr, "vfiod-sim: %s\n", e.message.c_str());
    }
    catch (const vfiod::Error& e)
    {
        std::fprintf(stderr, "vfiod-sim: %s\n", e.what());
    }
    catch (const std::system_error& e)
    {
        std::fprintf(stderr, "vfiod-sim: %s\n", e.what());
    }
    catch (const std::exception& e)
    {
        std::fprintf(stderr, "vfiod-sim: %s\n", e.what());
    }
    return 1;
}
