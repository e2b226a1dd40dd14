#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vfiod
{

/**
 * @brief Replaces @p path with @p text so that a crash at any point leaves
 * either the old file or the new one: a temporary file beside it is
 * written and fsynced, renamed over @p path, and the directory fsynced so
 * the rename itself survives a power cut.
 * @param mode permission bits of the new file.
 * @throws std::system_error naming the step that failed; @p path is then
 *         unchanged and the temporary file removed.
 */
void writeFileAtomically(const std::string& path, std::string_view text,
                         unsigned mode = 0644);

/**
 * @brief Writes all of @p text to @p fd, through short writes and EINTR.
 * @throws std::system_error "write WHAT: ..."
 */
void writeAll(int fd, std::string_view text, const std::string& what);

/**
 * @brief fsyncs a directory, so that a rename or unlink in it survives a
 * power cut.
 * @throws std::system_error
 */
void syncDirectory(const std::string& dir);

/**
 * @brief The whole of an open regular file, from its start whatever its
 * offset (pread), through short reads and EINTR.
 * @throws std::system_error "read WHAT: ..."
 */
std::string readAll(int fd, const std::string& what);

/** @brief The whole file, or std::nullopt when it does not exist.
 *  @throws std::system_error when it exists but cannot be read. */
std::optional<std::string> readWholeFile(const std::string& path);

} // namespace vfiod
