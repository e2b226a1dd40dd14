#pragma once

#include <sdbus-c++/Types.h>

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

namespace vfiod::daemon
{

/** @brief The trailing a{sv} every org.vfiod1.Device method takes. */
using MethodOptions = std::map<std::string, sdbus::Variant>;

/**
 * @brief Reads the string options of a method strictly: an unknown key or
 * a value that is not a string is refused, so a misspelt option never
 * silently does the default thing.
 * @param allowed the keys the method knows (all of type s).
 * @return the options present, key → value.
 * @throws Error(Errc::InvalidArgument) naming the key and what is allowed.
 */
std::map<std::string, std::string>
    readStringOptions(std::string_view method, const MethodOptions& options,
                      std::initializer_list<std::string_view> allowed);

/** @brief One optional string option; "" when absent. */
std::string stringOption(std::string_view method, const MethodOptions& options,
                         std::string_view key);

/** @brief What Bind was asked to do. */
struct BindOptions
{
    std::string driver;      ///< "driver" (s): "" = modules.alias best match
    bool wholeGroup = false; ///< "group" (b): bind every endpoint of the group
};

/**
 * @brief Reads Bind's options: "driver" (s) and "group" (b), strictly.
 * @throws Error(Errc::InvalidArgument) naming the key and what is allowed.
 */
BindOptions bindOptions(const MethodOptions& options);

/**
 * @brief Takes the boolean option @p key out of @p options (so that the
 * rest can be read as strings); false when absent.
 * @throws Error(Errc::InvalidArgument) when its value is not a boolean.
 */
bool takeBoolOption(std::string_view method, MethodOptions& options,
                    std::string_view key);

/**
 * @brief Reads the options of a method whose only option is "force" (b):
 * Unbind.
 */
bool forceOption(std::string_view method, const MethodOptions& options);

/** @brief For methods that take no options yet. */
void requireNoOptions(std::string_view method, const MethodOptions& options);

} // namespace vfiod::daemon
