#include "method_options.hpp"

#include "base/error.hpp"
#include "base/text_escape.hpp"

#include <algorithm>

namespace vfiod::daemon
{

std::map<std::string, std::string>
    readStringOptions(std::string_view method, const MethodOptions& options,
                      std::initializer_list<std::string_view> allowed)
{
    std::map<std::string, std::string> values;
    for (const auto& [key, value] : options)
    {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        {
            std::string known;
            for (std::string_view name : allowed)
            {
                known +=
                    (known.empty() ? "\"" : ", \"") + std::string(name) + "\"";
            }
            fail(Errc::InvalidArgument,
                 std::string(method) + ": unknown option " +
                     text::quotedArgument(key) + " (" +
                     (known.empty() ? "it takes no options"
                                    : "it takes " + known) +
                     ")");
        }
        if (!value.containsValueOfType<std::string>())
        {
            fail(Errc::InvalidArgument,
                 std::string(method) + ": option " + text::quotedArgument(key) +
                     " must be a string (s), not '" +
                     text::escaped(value.peekValueType(), text::maxQuoted) +
                     "'");
        }
        values[key] = value.get<std::string>();
    }
    return values;
}

std::string stringOption(std::string_view method, const MethodOptions& options,
                         std::string_view key)
{
    auto values = readStringOptions(method, options, {key});
    auto it = values.find(std::string(key));
    return it == values.end() ? std::string() : it->second;
}

BindOptions bindOptions(const MethodOptions& options)
{
    // "group" is the one boolean option; the rest are checked as strings.
    MethodOptions strings = options;
    BindOptions out;
    auto group = strings.find("group");
    if (group != strings.end())
    {
        if (!group->second.containsValueOfType<bool>())
        {
            fail(Errc::InvalidArgument,
                 "Bind: option \"group\" must be a boolean (b), not '" +
                     std::string(group->second.peekValueType()) + "'");
        }
        out.wholeGroup = group->second.get<bool>();
        strings.erase(group);
    }
    auto values = readStringOptions("Bind", strings, {"driver", "group"});
    if (auto it = values.find("driver"); it != values.end())
    {
        out.driver = it->second;
    }
    return out;
}

void requireNoOptions(std::string_view method, const MethodOptions& options)
{
    readStringOptions(method, options, {});
}

} // namespace vfiod::daemon
