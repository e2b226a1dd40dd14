#pragma once

#include "kernel/kernel_host.hpp"

#include <string>

namespace vfiod
{

/**
 * @brief Files one property of a udev event (NAME=VALUE as the kernel sent
 * it) into @p event: DRIVER is the event's driver; ACTION, SUBSYSTEM,
 * DEVPATH and SEQNUM are dropped, the event carries them already; anything
 * else is kept in properties, a repeated name keeping its first value.
 *
 * Apart from libudev so that it can be tested and fuzzed on plain strings
 * (fuzz/uevent_fuzzer.cpp): the values come from whoever can send a
 * uevent, and the daemon trusts nothing of them.
 */
void addUeventProperty(Uevent& event, std::string name, std::string value);

} // namespace vfiod
