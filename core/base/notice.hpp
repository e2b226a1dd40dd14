#pragma once

#include <functional>
#include <string>

namespace vfiod
{

/** @brief How much a notice matters, for whoever logs it. */
enum class NoticeLevel
{
    Debug,
    Info,
    Warning,
};

/**
 * @brief Where core says what it noticed and did not fail for (a plugin's
 * cleanup that failed, a status it could not read). Core does not log: the
 * daemon plugs its logging in here, a test collects the lines.
 */
using NoticeSink =
    std::function<void(NoticeLevel level, const std::string& message)>;

} // namespace vfiod
