#include "config.h"

#include "startup.hpp"

#include "base/error.hpp"
#include "bus_service.hpp"
#include "config_store.hpp"
#include "ledger/ledger.hpp"
#include "linux/linux_host.hpp"
#include "logging.hpp"
#include "options.hpp"
#include "signals.hpp"
#include "sim/sim_host.hpp"

#include <sdbus-c++/Error.h>
#include <signal.h>

#include <filesystem>
#include <iostream>

namespace vfiod::daemon
{

namespace
{

std::string simStateDir(const Options& options, const DaemonConfig& config)
{
    return options.simStateDir.value_or(config.stateDir + "/sim");
}

/**
 * Where the generated udev rules go. The real udev only sees them in
 * /run/udev/rules.d; a simulated host, or a Linux host whose sysfs is a
 * test tree, writes them beside its state unless told otherwise, so that a
 * test or a demo never changes how this machine's own udev binds devices.
 */
std::string udevRulesDir(const Options& options, const DaemonConfig& config)
{
    if (!config.udevRulesDir.empty())
    {
        return config.udevRulesDir;
    }
    if (options.simFile)
    {
        std::string dir = simStateDir(options, config) + "/udev-rules.d";
        std::filesystem::create_directories(dir);
        return dir;
    }
    if (options.sysfsRoot || config.roots.sysfs != LinuxRoots().sysfs)
    {
        logInfo("sysfs is not /sys: the generated udev rules are not "
                "written (set [roots] udev_rules to write them)");
        return "";
    }
    return "/run/udev/rules.d";
}

std::unique_ptr<KernelHost> makeHost(const Options& options,
                                     const DaemonConfig& config)
{
    if (options.simFile)
    {
        std::string stateDir = simStateDir(options, config);
        std::filesystem::create_directories(stateDir);
        logInfo("simulated host " + *options.simFile + ", state in " +
                stateDir);
        return std::make_unique<SimHost>(*options.simFile, stateDir);
    }
    LinuxRoots roots = config.roots;
    roots.sysfs = options.sysfsRoot.value_or(roots.sysfs);
    roots.dev = options.devRoot.value_or(roots.dev);
    roots.modules = options.modulesRoot.value_or(roots.modules);
    return std::make_unique<LinuxHost>(roots);
}

} // namespace

int runDaemon(int argc, char** argv)
{
    std::string_view program = argc > 0 ? argv[0] : "vfiod";
    Options options;
    try
    {
        options = parseOptions(argc, argv);
    }
    catch (const Error& e)
    {
        std::cerr << program << ": " << e.what() << "\n"
                  << "Try '" << program << " --help'.\n";
        return 2;
    }
    if (options.help)
    {
        std::cout << usage(program);
        return 0;
    }
    if (options.version)
    {
        std::cout << "vfiod " << VFIOD_VERSION << "\n";
        return 0;
    }

    try
    {
        // Before any thread exists, so that every thread inherits the
        // blocked mask and the signals arrive only on the loop.
        SignalFd signals({SIGTERM, SIGINT, SIGHUP});
        ::signal(SIGPIPE, SIG_IGN);

        ConfigStore config(options.configFile);
        DaemonConfig settings = config.current();
        setLogLevel(options.verbose ? LogLevel::Debug : settings.logLevel);

        ServicePaths paths;
        // A simulated host keeps its ledger with its simulated kernel: the
        // records describe that machine, not this one.
        paths.ledgerDir = options.simFile ? simStateDir(options, settings)
                                          : settings.stateDir;
        // Before the simulated kernel and its udev rules are written in
        // the same directory: through a link there, nothing is written.
        requireLedgerDirectories(paths.ledgerDir);
        auto host = makeHost(options, settings);
        paths.udevRulesDir = udevRulesDir(options, settings);
        BusService service(options.busAddress, config, *host, options.verbose,
                           paths);
        service.start();
        service.run(signals);
        return 0;
    }
    catch (const Error& e)
    {
        logError(e.what());
    }
    catch (const sdbus::Error& e)
    {
        logError("D-Bus: " + e.getName() + ": " + e.getMessage());
    }
    catch (const std::exception& e)
    {
        logError(e.what());
    }
    return 1;
}

} // namespace vfiod::daemon
