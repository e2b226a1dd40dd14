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

bool takeBoolOption(std::string_view method, MethodOptions& options,
                    std::string_view key)
{
    auto it = options.find(std::string(key));
    if (it == options.end())
    {
        return false;
    }
    if (!it->second.containsValueOfType<bool>())
    {
        fail(Errc::InvalidArgument,
             std::string(method) + ": option \"" + std::string(key) +
                 "\" must be a boolean (b), not '" +
                 text::escaped(it->second.peekValueType(), text::maxQuoted) +
                 "'");
    }
    bool value = it->second.get<bool>();
    options.erase(it);
    return value;
}

bool forceOption(std::string_view method, const MethodOptions& options)
{
    MethodOptions rest = options;
    bool force = takeBoolOption(method, rest, "force");
    readStringOptions(method, rest, {"force"});
    return force;
}

BindOptions bindOptions(const MethodOptions& options)
{
    // The boolean options come out first; the rest are checked as strings.
    MethodOptions strings = options;
    BindOptions out;
    out.wholeGroup = takeBoolOption("Bind", strings, "group");
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
