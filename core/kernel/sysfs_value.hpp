#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * @brief Strict parsers for the values the kernel prints in sysfs
 * attributes. Each one takes the raw attribute text (trailing newline
 * allowed) and refuses anything the kernel would not print.
 */
namespace vfiod::sysfs
{

/**
 * @brief "0x8086\n" → 0x8086: "0x" followed by 1 to 16 hex digits.
 * @return std::nullopt when malformed or above @p max.
 */
std::optional<uint64_t> parseHex(std::string_view text, uint64_t max);

/** @brief "2\n" → 2: decimal digits only. */
std::optional<uint64_t> parseUnsigned(std::string_view text, uint64_t max);

/** @brief "-1\n" → -1: an optional '-' and decimal digits. */
std::optional<int> parseInt(std::string_view text);

/** @brief "flr pm bus\n" → {"flr", "pm", "bus"}. */
std::vector<std::string> splitWords(std::string_view text);

} // namespace vfiod::sysfs
