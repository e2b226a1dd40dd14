// The simulated kernel's state file (sim/sim_state_parser.cpp), which any
// process with the state directory can write: every vfiod and vfiod-sim
// sharing the host reads it on each refresh.

#include "fuzz_check.hpp"
#include "sim/sim_state_format.hpp"

#include <string>

using vfiod::Errc;
using vfiod::Error;
namespace fuzz = vfiod::fuzz;
namespace sim = vfiod::sim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text = fuzz::text(data, size);
    (void)sim::parseStateStamp(text.substr(0, text.find('\n')));
    try
    {
        sim::Model model = sim::parseState(text, "state");
        // What was read is written back the same way it reads.
        std::string state = sim::formatState(model);
        fuzz::require(sim::formatState(sim::parseState(state, "state")) ==
                          state,
                      "a state read, written and read again is the same");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::Failed, "parseState");
    }
    return 0;
}
