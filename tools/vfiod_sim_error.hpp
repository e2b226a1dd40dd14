#pragma once

#include <string>

namespace vfiod_sim
{

/** @brief A failure already worded for the user. */
struct ToolError
{
    std::string message;
};

} // namespace vfiod_sim
