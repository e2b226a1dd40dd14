#include "options.hpp"

#include "base/error.hpp"
#include "config/daemon_config.hpp"

#include <getopt.h>

namespace vfiod::daemon
{

namespace
{

enum LongOnly
{
    optSim = 0x100,
    optSimState,
    optConfig,
    optBusAddress,
    optSysfsRoot,
    optDevRoot,
    optModulesRoot,
    optVersion,
};

const option longOptions[] = {
    {"sim", required_argument, nullptr, optSim},
    {"sim-state", required_argument, nullptr, optSimState},
    {"config", required_argument, nullptr, optConfig},
    {"bus-address", required_argument, nullptr, optBusAddress},
    {"sysfs-root", required_argument, nullptr, optSysfsRoot},
    {"dev-root", required_argument, nullptr, optDevRoot},
    {"modules-root", required_argument, nullptr, optModulesRoot},
    {"verbose", no_argument, nullptr, 'v'},
    {"version", no_argument, nullptr, optVersion},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

std::string nonEmpty(const char* value, std::string_view name)
{
    std::string text = value != nullptr ? value : "";
    if (text.empty())
    {
        fail(Errc::InvalidArgument,
             "--" + std::string(name) + " needs a non-empty value");
    }
    return text;
}

} // namespace

Options parseOptions(int argc, char** argv)
{
    Options options;
    // getopt keeps state in globals: start over for every call (tests).
    optind = 0;
    opterr = 0;
    int c = 0;
    while ((c = getopt_long(argc, argv, ":vh", longOptions, nullptr)) != -1)
    {
        switch (c)
        {
            case optSim:
                options.simFile = nonEmpty(optarg, "sim");
                break;
            case optSimState:
                options.simStateDir = nonEmpty(optarg, "sim-state");
                break;
            case optConfig:
                options.configFile = nonEmpty(optarg, "config");
                break;
            case optBusAddress:
                options.busAddress = nonEmpty(optarg, "bus-address");
                break;
            case optSysfsRoot:
                options.sysfsRoot = nonEmpty(optarg, "sysfs-root");
                break;
            case optDevRoot:
                options.devRoot = nonEmpty(optarg, "dev-root");
                break;
            case optModulesRoot:
                options.modulesRoot = nonEmpty(optarg, "modules-root");
                break;
            case 'v':
                options.verbose = true;
                break;
            case optVersion:
                options.version = true;
                break;
            case 'h':
                options.help = true;
                break;
            case ':':
                fail(Errc::InvalidArgument,
                     std::string(argv[optind - 1]) + " needs a value");
            default:
                fail(Errc::InvalidArgument,
                     "unknown option " + std::string(argv[optind - 1]));
        }
    }
    if (optind < argc)
    {
        fail(Errc::InvalidArgument,
             "unexpected argument " + std::string(argv[optind]));
    }
    if (options.simStateDir && !options.simFile)
    {
        fail(Errc::InvalidArgument, "--sim-state needs --sim");
    }
    return options;
}

std::string usage(std::string_view program)
{
    return "Usage: " + std::string(program) +
           " [OPTIONS]\n"
           "\n"
           "vfiod manages PCI devices for VFIO passthrough and serves them "
           "on D-Bus as org.vfiod1.\n"
           "\n"
           "  --config FILE        configuration (default: " +
           defaultConfigPath() +
           ";\n"
           "                       a missing default file means defaults)\n"
           "  --bus-address ADDR   serve on this bus instead of the system "
           "bus\n"
           "                       (DBUS_SYSTEM_BUS_ADDRESS is honoured "
           "too)\n"
           "  --sim FILE           run on a simulated host described by "
           "FILE\n"
           "  --sim-state DIR      the simulated kernel's state "
           "(default: STATE_DIR/sim)\n"
           "  --sysfs-root DIR     override [roots] sysfs\n"
           "  --dev-root DIR       override [roots] dev\n"
           "  --modules-root DIR   override [roots] modules\n"
           "  -v, --verbose        log debug messages\n"
           "  --version            print the version and exit\n"
           "  -h, --help           print this help and exit\n";
}

} // namespace vfiod::daemon
