// log_probe: writes one structured message through the daemon's logging,
// so that logging_test.py can check what reaches the journal socket or
// stderr with every field, not only the ones vfiod happens to log today.
//
// usage: log_probe LEVEL MESSAGE  (LEVEL: error, warning, info, debug)

#include "logging.hpp"

#include <cstring>
#include <iostream>

int main(int argc, char** argv)
{
    using namespace vfiod;
    using namespace vfiod::daemon;
    if (argc != 3)
    {
        std::cerr << "usage: log_probe LEVEL MESSAGE\n";
        return 2;
    }
    LogLevel level = LogLevel::Info;
    if (std::strcmp(argv[1], "error") == 0)
    {
        level = LogLevel::Error;
    }
    else if (std::strcmp(argv[1], "warning") == 0)
    {
        level = LogLevel::Warning;
    }
    else if (std::strcmp(argv[1], "debug") == 0)
    {
        level = LogLevel::Debug;
    }
    setLogLevel(LogLevel::Debug);
    logStructured(level, argv[2],
                  {addressField(PciAddress::parse("0000:03:00.0")),
                   vendorField(0x144d),
                   deviceIdField(0xa808),
                   {logfield::operation, "bind"},
                   {logfield::error, "Busy: multi\nline"}});
    logInfo("plain message");
    return 0;
}
