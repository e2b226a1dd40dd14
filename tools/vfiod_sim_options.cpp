#include "vfiod_sim_options.hpp"

#include "vfiod_sim_error.hpp"

#include <cstdio>
#include <cstdlib>

namespace vfiod_sim
{

namespace
{

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

} // namespace

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

void needArgs(const Options& options, std::size_t count, const char* form)
{
    if (options.args.size() != count + 1)
    {
        throw ToolError{std::string("usage: vfiod-sim --state DIR ") + form};
    }
}

} // namespace vfiod_sim
