#include "service_notify.hpp"

#include "logging.hpp"

#include <systemd/sd-daemon.h>

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

} // namespace

void notifyReady(const std::string& status)
{
    notify("READY=1\nSTATUS=" + status);
}

void notifyStatus(const std::string& status)
{
    notify("STATUS=" + status);
}

void notifyReloading()
{
    notify("RELOADING=1");
}

void notifyStopping()
{
    notify("STOPPING=1");
}

} // namespace vfiod::daemon
