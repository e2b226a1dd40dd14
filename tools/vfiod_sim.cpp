/**
 * vfiod-sim: acts on a simulated kernel (a SimHost state directory) the
 * way an administrator or the hardware would: sysfs writes, hotplug,
 * processes opening devices through vfio. Meant for scripts and for
 * poking at a daemon running on the sim backend.
 */

#include "base/error.hpp"
#include "base/pci_address.hpp"
#include "kernel/sysfs_layout.hpp"
#include "sim/sim_host.hpp"
#include "sim/sim_state_store.hpp"
#include "vfiod_sim_access.hpp"
#include "vfiod_sim_error.hpp"
#include "vfiod_sim_options.hpp"
#include "vfiod_sim_report.hpp"

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace
{

using vfiod::PciAddress;
using vfiod::SimHost;
using namespace vfiod_sim;

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
