// vfiod.toml (config/daemon_config.cpp): the strict TOML reader and every
// key's checks.

#include "base/toml_reader.hpp"
#include "config/daemon_config.hpp"
#include "fuzz_check.hpp"

using vfiod::Errc;
using vfiod::Error;
namespace fuzz = vfiod::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // loadDaemonConfig reads nothing larger than this.
    if (size > vfiod::toml_reader::maxFileSize)
    {
        return 0;
    }
    try
    {
        vfiod::DaemonConfig config =
            vfiod::parseDaemonConfig(fuzz::text(data, size), "vfiod.toml");
        fuzz::require(
            config.groupWait.count() >= 0 && config.pluginOp.count() >= 0 &&
                config.leaseGrace.count() >= 0 && config.idleExit.count() >= 0,
            "accepted durations are not negative");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "parseDaemonConfig");
    }
    return 0;
}
