#pragma once

#include <cstddef>
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
 *
 * The temporary file has a fresh random name and is created exclusively
 * without following a link, so nothing planted beside @p path (a symlink
 * at a name the writer could be expected to use) is ever followed or
 * overwritten. A symlink at @p path itself is replaced by the new file:
 * rename(2) replaces the link, never what it points to. The directory part
 * of @p path is the caller's and is followed as given.
 * @param mode permission bits of the new file.
 * @throws std::system_error naming the step that failed; @p path is then
 *         unchanged and the temporary file removed.
 */
void writeFileAtomically(const std::string& path, std::string_view text,
                         unsigned mode = 0644);

/**
 * @brief writeFileAtomically for @p name in the directory open as
 * @p dirFd, so that a caller holding its directory open is never led
 * elsewhere by the directory's path changing underneath it.
 * @param dir the directory's path, for messages only.
 */
void writeFileAtomicallyAt(int dirFd, const std::string& dir,
                           const std::string& name, std::string_view text,
                           unsigned mode);

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

/**
 * @brief The whole of @p path when it is a regular file of at most
 * @p maxBytes, std::nullopt when it does not exist. A symlink at @p path
 * is not followed, and anything else (a FIFO, a device node, a directory)
 * is neither opened for what it is nor waited on: reading a name that
 * someone else could have planted never hangs nor reads elsewhere.
 * @throws Error(Errc::InvalidArgument) naming @p path when it is a
 *         symlink, not a regular file, or larger than @p maxBytes;
 *         std::system_error when it cannot be read.
 */
std::optional<std::string> readRegularFile(const std::string& path,
                                           size_t maxBytes);

/**
 * @brief readRegularFile for @p name in the directory open as @p dirFd.
 * @param dir the directory's path, for messages only.
 */
std::optional<std::string> readRegularFileAt(int dirFd, const std::string& dir,
                                             const std::string& name,
                                             size_t maxBytes);

} // namespace vfiod
