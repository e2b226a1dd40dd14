#pragma once

#include <chrono>
#include <string>

namespace vfiod
{

/**
 * @brief Waits until @p root / @p relative exists, or @p timeout passes.
 *
 * Event driven, no polling sleeps: it watches the deepest directory of the
 * path that already exists with inotify and moves the watch down as the
 * missing directories appear, so it also covers "vfio/12" before the vfio
 * module has created /dev/vfio.
 *
 * @param relative a validated path below @p root.
 * @return whether the path exists when the wait ends.
 * @throws std::system_error when inotify cannot be set up.
 */
bool waitForPath(const std::string& root, const std::string& relative,
                 std::chrono::milliseconds timeout);

} // namespace vfiod
