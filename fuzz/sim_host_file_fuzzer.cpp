// The simulated host's description (sim/sim_host_file.cpp, the format of
// conf/sim-host.toml) and the hot-added device of `vfiod-sim add`; an
// accepted host must survive the state file (sim_state_*.cpp) unchanged.

#include "base/toml_reader.hpp"
#include "fuzz_check.hpp"
#include "sim/sim_host_file.hpp"
#include "sim/sim_state_format.hpp"

#include <string>

using vfiod::Errc;
using vfiod::Error;
namespace fuzz = vfiod::fuzz;
namespace sim = vfiod::sim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // loadHostFile reads nothing larger than this.
    if (size > vfiod::toml_reader::maxFileSize)
    {
        return 0;
    }
    std::string_view text = fuzz::text(data, size);
    sim::Model model;
    try
    {
        model = sim::parseHostText(text, "host.toml");
        std::string state = sim::formatState(model);
        fuzz::require(
            sim::formatState(sim::parseState(state, "state")) == state,
            "an accepted host reads back from its state file unchanged");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "parseHostText");
    }
    try
    {
        (void)sim::parseDeviceText(text, "device.toml", model);
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "parseDeviceText");
    }
    return 0;
}
