#include "sim/sim_text.hpp"

namespace vfiod::sim
{

namespace
{

int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    return -1;
}

} // namespace

std::string escape(std::string_view text)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text)
    {
        auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte >= 0x7f || c == '%' || c == '=' || c == ',' ||
            c == ':')
        {
            out += '%';
            out += digits[byte >> 4];
            out += digits[byte & 0xf];
        }
        else
        {
            out += c;
        }
    }
    return out;
}

std::string unescape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i)
    {
        int high = -1;
        int low = -1;
        if (text[i] == '%' && i + 2 < text.size() &&
            (high = hexDigit(text[i + 1])) >= 0 &&
            (low = hexDigit(text[i + 2])) >= 0)
        {
            out += static_cast<char>(high * 16 + low);
            i += 2;
        }
        else
        {
            out += text[i];
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, char separator)
{
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;)
    {
        size_t end = text.find(separator, start);
        if (end == std::string_view::npos)
        {
            out.push_back(text.substr(start));
            return out;
        }
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
}

std::string joinList(const std::vector<std::string>& items)
{
    std::string out;
    for (size_t i = 0; i < items.size(); ++i)
    {
        if (i > 0)
        {
            out += ',';
        }
        // An empty item would vanish; items here are names, never empty,
        // but keep it representable.
        out += items[i].empty() ? "%00" : escape(items[i]);
    }
    return out;
}

std::vector<std::string> splitList(std::string_view text)
{
    std::vector<std::string> out;
    if (text.empty())
    {
        return out;
    }
    for (std::string_view item : split(text, ','))
    {
        out.push_back(item == "%00" ? std::string() : unescape(item));
    }
    return out;
}

} // namespace vfiod::sim
