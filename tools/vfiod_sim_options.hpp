#pragma once

#include <cstddef>
#include <string>
#include <vector>

/** @brief vfiod-sim's command line. */
namespace vfiod_sim
{

/** @brief The parsed command line. */
struct Options
{
    std::string state;
    std::string host;
    std::vector<std::string> args; ///< command and its arguments
};

/**
 * @brief Parses argv. Prints the usage and exits for --help (status 0) and
 * without --state or a command (status 2).
 * @throws ToolError for an unknown option or one missing its value.
 */
Options parseOptions(int argc, char** argv);

/**
 * @throws ToolError, worded with @p form, unless the command has exactly
 * @p count arguments.
 */
void needArgs(const Options& options, std::size_t count, const char* form);

} // namespace vfiod_sim
