#include "service_notify.hpp"

#include "logging.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstring>

namespace vfiod::daemon
{

namespace
{

void notify(const std::string& state)
{
    int r = sd_notify(0, state.c_str());
    if (r < 0)
    {
        logDebug("sd_notify(" + state + ") failed: " + std::strerror(-r) +
                 ", ignoring");
    }
}

uint64_t monotonicUsec()
{
    timespec ts = {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
           static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace

void notifyReady(const std::string& status)
{
    notify("READY=1\nSTATUS=" + status);
}

void notifyStatus(const std::string& status)
{
    notify("STATUS=" + status);
}

std::string managingStatus(std::size_t devices, std::size_t assigned)
{
    std::string text = "Managing " + std::to_string(devices) +
                       (devices == 1 ? " device" : " devices");
    if (assigned > 0)
    {
        text += " (" + std::to_string(assigned) + " assigned)";
    }
    return text;
}

void notifyReloading()
{
    notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonicUsec()) +
           "\nSTATUS=Reloading configuration");
}

void notifyStopping()
{
    notify("STOPPING=1\nSTATUS=Stopping");
}

std::optional<std::chrono::microseconds> watchdogInterval()
{
    uint64_t usec = 0;
    // unset_environment = 0: a restart of the loop (tests) reads it again,
    // and children we spawn (modprobe) are not ours to watch anyway since
    // WATCHDOG_PID names this process only.
    int r = sd_watchdog_enabled(0, &usec);
    if (r < 0)
    {
        logWarning(std::string("ignoring an invalid WATCHDOG_USEC or "
                               "WATCHDOG_PID: ") +
                   std::strerror(-r));
        return std::nullopt;
    }
    if (r == 0 || usec == 0)
    {
        return std::nullopt;
    }
    return std::chrono::microseconds(usec);
}

void notifyWatchdog()
{
    notify("WATCHDOG=1");
}

} // namespace vfiod::daemon
