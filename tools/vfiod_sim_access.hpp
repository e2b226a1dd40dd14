#pragma once

#include "sim/sim_host.hpp"

#include <string>

/**
 * @brief vfiod-sim's reads and writes of the simulated sysfs, with their
 * failures worded for the user (the errno's name and text).
 */
namespace vfiod_sim
{

/** @brief "ENOENT (No such file or directory)". */
std::string errnoText(int code);

/** @brief @p path relative to /sys, as SimHost takes it. */
std::string sysPath(std::string path);

/** @throws ToolError when the attribute cannot be read. */
std::string readAttr(vfiod::SimHost& host, const std::string& path);

/** @throws ToolError when the write fails. */
void writeAttr(vfiod::SimHost& host, const std::string& path,
               const std::string& value);

} // namespace vfiod_sim
