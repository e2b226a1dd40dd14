#pragma once

#include <string>
#include <string_view>
#include <vector>

/**
 * @brief The small text encoding shared by the state file and the uevent
 * log: one record per line, fields separated by a single character, and
 * every byte that could be mistaken for structure percent-encoded.
 */
namespace vfiod::sim
{

/**
 * @brief Percent-encodes '%', '=', ',', ':' and every byte outside
 * 0x21..0x7e (so space, tab and newline), leaving a token that has no
 * separators in it. The empty string stays empty.
 */
std::string escape(std::string_view text);

/** @brief Reverses escape(); a malformed escape is kept as it is. */
std::string unescape(std::string_view text);

/** @brief Splits on @p separator, keeping empty fields. */
std::vector<std::string_view> split(std::string_view text, char separator);

/** @brief Comma-joins escaped items; an empty list becomes "". */
std::string joinList(const std::vector<std::string>& items);

/** @brief Reverses joinList(). */
std::vector<std::string> splitList(std::string_view text);

} // namespace vfiod::sim
