#pragma once

#include "base/pci_address.hpp"

#include <string>

namespace vfiod
{

/**
 * @brief What an operation of the core service is asked to act on: the
 * device, and the request in words ("Bind 0000:03:00.0", "autobind
 * 0000:03:00.0") that every message about it starts with.
 */
struct Request
{
    PciAddress address;
    std::string what;
    /// The caller (root, or allowed to manage vfiod) overrides the InUse
    /// check: a process outside vfiod holds the device open.
    bool force = false;
};

} // namespace vfiod
