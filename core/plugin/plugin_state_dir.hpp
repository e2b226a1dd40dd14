#pragma once

#include "base/fd.hpp"

#include <string>

namespace vfiod
{

/**
 * @brief Opens (creating it when missing) the directory @p name under
 * @p at without following a link at it: the plugin host's files in the
 * state directory (call markers, the quarantine) are kept only in real
 * directories, as the ledger's are, since a link could lead them into any
 * file.
 * @param path @p name's path and @p what the directory, for messages.
 * @throws Error(Errc::InvalidArgument) when it is a symlink or not a
 *         directory; Error(Errc::Failed) when it cannot be created or
 *         opened.
 */
UniqueFd openStateDirectory(int at, const std::string& name,
                            const std::string& path, const std::string& what);

/** @brief @p path without trailing slashes, which would make the kernel
 *  follow a link at its last component whatever O_NOFOLLOW says. */
std::string withoutTrailingSlashes(std::string path);

} // namespace vfiod
