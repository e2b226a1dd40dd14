// The crash tests' kill point (sim_kill_point.hpp): the simulated kernel is
// the one place that sees every kernel step of every vfiod operation.
#include "sim/sim_kill_point.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace vfiod::sim::kill_point
{

namespace
{

struct Setting
{
    bool enabled = false;
    unsigned killAt = 0;
    bool afterStep = true;
};

const Setting& setting()
{
    static const Setting value = [] {
        Setting s;
        const char* at = std::getenv("VFIOD_SIM_KILL_AT");
        if (at == nullptr)
        {
            return s;
        }
        s.enabled = true;
        s.killAt = static_cast<unsigned>(std::strtoul(at, nullptr, 10));
        const char* when = std::getenv("VFIOD_SIM_KILL_WHEN");
        s.afterStep = when == nullptr || std::strcmp(when, "before") != 0;
        return s;
    }();
    return value;
}

std::atomic<unsigned> steps{0};

void say(const std::string& line)
{
    // Unbuffered: the next thing this process may do is die.
    std::string text = line + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
    (void)ignored;
}

[[noreturn]] void killHere(unsigned step, const char* when)
{
    say("vfiod-sim kill point: SIGKILL " + std::string(when) + " step " +
        std::to_string(step));
    ::kill(::getpid(), SIGKILL);
    for (;;)
    {
        ::pause(); // SIGKILL cannot be caught: never returns
    }
}

} // namespace

unsigned before(const std::string& what)
{
    const Setting& s = setting();
    if (!s.enabled)
    {
        return 0;
    }
    unsigned step = ++steps;
    say("vfiod-sim kill point: step " + std::to_string(step) + ": " + what);
    if (step == s.killAt && !s.afterStep)
    {
        killHere(step, "before");
    }
    return step;
}

void after(unsigned step)
{
    const Setting& s = setting();
    if (step != 0 && step == s.killAt && s.afterStep)
    {
        killHere(step, "after");
    }
}

} // namespace vfiod::sim::kill_point
