#pragma once

#include <cstdint>
#include <string_view>

/**
 * @brief How the kernel reads the text written to a sysfs file: the
 * parsers of lib/kstrtox.c and lib/string.c the *_store functions use, so
 * that the simulated files refuse exactly what the real ones refuse.
 */
namespace vfiod::sim
{

/** @brief What the kernel sees of a write: the bytes up to a NUL. */
std::string_view cString(std::string_view value);

/** @brief sysfs_streq's view of a name: one trailing newline ignored. */
std::string_view streqName(std::string_view value);

/**
 * @brief kstrtoull: optional '+', base 0 prefixes (0x hex, 0 octal), one
 * trailing newline allowed. @return -1 for malformed text or overflow.
 */
int64_t kstrtou(std::string_view text, uint64_t max);

/** @brief kstrtobool. @return -1 when it is not a boolean. */
int kstrtobool(std::string_view text);

} // namespace vfiod::sim
