#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/**
 * @brief Text from outside (a D-Bus caller's argument, a file's contents)
 * made safe to write into a log line or an error message: it cannot end
 * the line, move the cursor or recolour a terminal, and cannot grow a
 * message without bound.
 */
namespace vfiod::text
{

/**
 * @brief @p text with every byte that is not printable escaped: "\n",
 * "\r", "\t", other control characters and DEL as "\xHH" (ESC is "\x1b"),
 * C1 controls (U+0080 to U+009F, which some terminals obey as ESC [) as
 * "\u0080", and bytes that are not valid UTF-8 as "\xHH". A backslash is
 * kept as it is: the text stays readable, and no escape can make a line
 * break. Printable UTF-8 passes unchanged.
 *
 * When @p text is longer than @p maxBytes, only its first @p maxBytes
 * (ending on a whole character) are kept, followed by "…(N bytes cut)".
 */
std::string escaped(std::string_view text, size_t maxBytes = std::string::npos);

/**
 * @brief The most of a caller's argument an error message quotes: enough
 * to recognise a state name, a driver or an address, not enough to carry a
 * payload back through the reply or the log line of the refusal.
 */
inline constexpr size_t maxQuoted = 64;

/** @brief "\"" + escaped(@p text, maxQuoted) + "\"": how an error message
 * names what the caller sent. */
std::string quotedArgument(std::string_view text);

} // namespace vfiod::text
