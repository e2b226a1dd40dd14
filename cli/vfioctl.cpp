/*
 * vfioctl: the command-line client of vfiod. This file only parses the
 * command line (it is the one translation unit that includes CLI11, which
 * is slow to compile) and turns failures into messages and exit codes; each
 * verb lives in its own cmd_*.cpp.
 */

#include "config.h"

#include "cli_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

#include <sdbus-c++/Error.h>

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

namespace
{

using namespace vfioctl;

/** What the chosen subcommand will do, filled in by its CLI11 callback. */
using Action = std::function<int()>;

struct Arguments
{
    std::string busAddress;
    GlobalOptions global;
    std::string address;
    std::string driver;
    bool wholeGroup = false;
    std::string method;
    std::vector<std::string> command;
    std::string configDir;
    std::string state;
    std::string file;
    std::string target;
};

std::optional<std::string> optionalOf(const std::string& text)
{
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

CLI::App* addDeviceCommand(CLI::App& app, const char* name,
                           const char* description, Arguments& args)
{
    CLI::App* command = app.add_subcommand(name, description);
    command
        ->add_option("ADDR", args.address,
                     "PCI address: DDDD:BB:DD.F or BB:DD.F")
        ->required();
    return command;
}

/** @brief --force: past the in-use check (root, or the manage action). */
void addForceFlag(CLI::App* command, Arguments& args)
{
    command->add_flag("--force", args.global.force,
                      "even if a process vfiod did not give the device to "
                      "holds it open (root, or the manage action)");
}

void setUpCommands(CLI::App& app, Arguments& args, Action& action)
{
    const GlobalOptions& global = args.global;

    app.add_subcommand("list", "List PCI devices and their state")
        ->callback([&] { action = [&] { return toInt(runList(global)); }; });

    addDeviceCommand(app, "show", "Show every property of a device", args)
        ->callback([&] {
            action = [&] { return toInt(runShow(global, args.address)); };
        });

    auto* bind = addDeviceCommand(
        app, "bind", "Bind a device to vfio-pci or a vfio variant driver",
        args);
    bind->add_option("--driver", args.driver,
                     "vfio driver to use (default: the best match)");
    bind->add_flag("--group", args.wholeGroup,
                   "bind every endpoint of the IOMMU group, all or nothing");
    bind->callback([&] {
        action = [&] {
            return toInt(runBind(global, args.address, optionalOf(args.driver),
                                 args.wholeGroup));
        };
    });

    auto* unbind = addDeviceCommand(
        app, "unbind", "Return a device to its original driver", args);
    addForceFlag(unbind, args);
    unbind->callback([&] {
        action = [&] { return toInt(runUnbind(global, args.address)); };
    });

    auto* assign = addDeviceCommand(
        app, "assign",
        "Assign a device to this session: hold the lease until interrupted, "
        "or for the lifetime of CMD",
        args);
    assign->add_option("--driver", args.driver,
                       "vfio driver to use if the device must be bound");
    addForceFlag(assign, args);
    assign->add_option("CMD", args.command,
                       "CMD [ARGS...] after --: run it while holding the "
                       "lease, then release and exit with its status");
    assign->footer("The lease stays in vfioctl (close-on-exec): CMD does not "
                   "inherit it.\nSIGINT, SIGTERM, SIGHUP and SIGQUIT sent to "
                   "vfioctl are passed on to CMD.");
    assign->callback([&] {
        action = [&] {
            return runAssign(global, args.address, optionalOf(args.driver),
                             args.command);
        };
    });

    addDeviceCommand(app, "release", "End the assignment of a device", args)
        ->callback([&] {
            action = [&] { return toInt(runRelease(global, args.address)); };
        });

    auto* reset = addDeviceCommand(app, "reset", "Reset a device", args);
    reset->add_option("--method", args.method,
                      "reset method, one of the device's ResetMethods "
                      "(default: the kernel's order)");
    addForceFlag(reset, args);
    reset->callback([&] {
        action = [&] {
            return toInt(
                runReset(global, args.address, optionalOf(args.method)));
        };
    });

    app.add_subcommand("monitor", "Print device events until interrupted")
        ->callback([&] { action = [&] { return toInt(runMonitor(global)); }; });

    app.add_subcommand("reload",
                       "Make vfiod re-read its configuration and policy")
        ->callback([&] { action = [&] { return toInt(runReload(global)); }; });

    addDeviceCommand(app, "explain",
                     "Show which policy rule matches a device and what vfiod "
                     "does with it",
                     args)
        ->callback([&] {
            action = [&] { return toInt(runExplain(global, args.address)); };
        });

    app.add_subcommand("udev-rules",
                       "Print the udev rules vfiod generated from its policy")
        ->callback(
            [&] { action = [&] { return toInt(runUdevRules(global)); }; });

    app.add_subcommand("plugins", "List the plugins vfiod loaded")
        ->callback([&] { action = [&] { return toInt(runPlugins(global)); }; });

    auto* migrationState = addDeviceCommand(
        app, "migration-state",
        "Show a device's migration flags and state, or walk it to STATE", args);
    migrationState->add_option(
        "STATE", args.state,
        "STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY or "
        "PRE_COPY_P2P");
    migrationState->callback([&] {
        action = [&] {
            return toInt(runMigrationState(global, args.address,
                                           optionalOf(args.state)));
        };
    });

    auto* save = addDeviceCommand(
        app, "save", "Save a device's migration state into FILE", args);
    save->add_option("FILE", args.file, "file to write, - for stdout")
        ->required();
    save->footer("The device ends in STOP. Ctrl-C cancels.");
    save->callback([&] {
        action = [&] {
            return toInt(runSave(global, args.address, args.file));
        };
    });

    auto* load = addDeviceCommand(
        app, "load", "Load a device's migration state from FILE", args);
    load->add_option("FILE", args.file, "file to read, - for stdin")
        ->required();
    load->footer("The device ends in RUNNING. Ctrl-C cancels.");
    load->callback([&] {
        action = [&] {
            return toInt(runLoad(global, args.address, args.file));
        };
    });

    auto* migrate = addDeviceCommand(
        app, "migrate", "Move a device's state into another device", args);
    migrate->add_option("DST", args.target, "the target device's address")
        ->required();
    migrate->footer("SRC ends in STOP, DST in RUNNING. Ctrl-C cancels.");
    migrate->callback([&] {
        action = [&] {
            return toInt(runMigrate(global, args.address, args.target));
        };
    });

    auto* checkConfig = app.add_subcommand(
        "check-config", "Validate vfiod.toml and policy.d/*.toml offline");
    checkConfig->add_option(
        "DIR", args.configDir,
        "configuration directory (default: " VFIOD_SYSCONFDIR ")");
    checkConfig->footer("Exits 0 when valid, 2 with FILE:LINE:COLUMN: message "
                        "on stderr when not.");
    checkConfig->callback([&] {
        action = [&] {
            return toInt(runCheckConfig(global, optionalOf(args.configDir)));
        };
    });
}

int reportParseError(CLI::App& app, const CLI::ParseError& error)
{
    // --help and --version arrive as "errors" that exit successfully.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
    {
        return app.exit(error);
    }
    std::cerr << "vfioctl: " << error.what()
              << "\nRun 'vfioctl --help' for usage." << std::endl;
    return toInt(ExitCode::usage);
}

int report(const CliError& error)
{
    std::cerr << "vfioctl: " << error.what() << std::endl;
    return toInt(error.code());
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Control vfiod, the VFIO passthrough device manager.",
                 "vfioctl"};
    // Global options are accepted after the subcommand too.
    app.fallthrough();
    app.require_subcommand(1);
    app.set_version_flag("--version", VFIOD_VERSION);
    app.footer(exitCodeHelp);

    Arguments args;
    Action action;
    app.add_option("--bus-address", args.busAddress,
                   "D-Bus address of the bus vfiod is on (default: "
                   "$DBUS_SYSTEM_BUS_ADDRESS, else the system bus)");
    app.add_flag("--json", args.global.json,
                 "Machine-readable output: JSON on stdout");
    setUpCommands(app, args, action);

    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::ParseError& error)
    {
        return reportParseError(app, error);
    }
    args.global.busAddress = optionalOf(args.busAddress);

    try
    {
        return action();
    }
    catch (const CliError& error)
    {
        return report(error);
    }
    catch (const sdbus::Error& error)
    {
        return report(fromBusError(error));
    }
    catch (const std::exception& error)
    {
        return report(CliError(ExitCode::failed, error.what()));
    }
}
