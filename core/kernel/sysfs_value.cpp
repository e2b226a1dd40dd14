#include "kernel/sysfs_value.hpp"

#include "kernel/sysfs_layout.hpp"

#include <charconv>
#include <climits>

namespace vfiod::sysfs
{

namespace
{

std::optional<uint64_t> parseDigits(std::string_view digits, int base,
                                    uint64_t max)
{
    if (digits.empty())
    {
        return std::nullopt;
    }
    // from_chars alone would also take a leading '-' or stop early; demand
    // that every character is a digit.
    for (char c : digits)
    {
        bool ok =
            (c >= '0' && c <= '9') ||
            (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!ok)
        {
            return std::nullopt;
        }
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(
        digits.data(), digits.data() + digits.size(), value, base);
    if (ec != std::errc() || end != digits.data() + digits.size() ||
        value > max)
    {
        return std::nullopt;
    }
    return value;
}

} // namespace

std::optional<uint64_t> parseHex(std::string_view text, uint64_t max)
{
    std::string value = trim(text);
    std::string_view view = value;
    if (!view.starts_with("0x"))
    {
        return std::nullopt;
    }
    return parseDigits(view.substr(2), 16, max);
}

std::optional<uint64_t> parseUnsigned(std::string_view text, uint64_t max)
{
    return parseDigits(trim(text), 10, max);
}

std::optional<int> parseInt(std::string_view text)
{
    std::string value = trim(text);
    std::string_view view = value;
    bool negative = view.starts_with('-');
    if (negative)
    {
        view.remove_prefix(1);
    }
    auto magnitude = parseDigits(view, 10, INT_MAX);
    if (!magnitude)
    {
        return std::nullopt;
    }
    int result = static_cast<int>(*magnitude);
    return negative ? -result : result;
}

std::vector<std::string> splitWords(std::string_view text)
{
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size())
    {
        while (i < text.size() &&
               (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
        {
            ++i;
        }
        size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t' &&
               text[i] != '\n')
        {
            ++i;
        }
        if (i > start)
        {
            words.emplace_back(text.substr(start, i - start));
        }
    }
    return words;
}

} // namespace vfiod::sysfs
