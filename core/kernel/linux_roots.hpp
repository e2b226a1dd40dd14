#pragma once

#include <string>

namespace vfiod
{

/** @brief Where the real kernel's files are; tests point these at trees. */
struct LinuxRoots
{
    std::string sysfs = "/sys";
    std::string dev = "/dev";
    /// Where the processes that may hold VFIO nodes open are listed.
    std::string proc = "/proc";
    /// Holds <release>/modules.alias. Any other root must end in
    /// "/lib/modules": modprobe only takes "-d DIR" for DIR/lib/modules.
    std::string modules = "/lib/modules";
    std::string kernelRelease; ///< "" means uname -r
    /// Run as `modprobe -q [-d DIR] [-S RELEASE] -- MODULE`: -d only for a
    /// non-default modules root, -S only for a set kernelRelease.
    std::string modprobe = "/sbin/modprobe";
};

} // namespace vfiod
