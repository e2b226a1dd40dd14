#include "sim/sim_kernel_strings.hpp"

namespace vfiod::sim
{

std::string_view cString(std::string_view value)
{
    return value.substr(0, value.find('\0'));
}

std::string_view streqName(std::string_view value)
{
    value = cString(value);
    if (value.ends_with('\n'))
    {
        value.remove_suffix(1);
    }
    return value;
}

int64_t kstrtou(std::string_view text, uint64_t max)
{
    text = streqName(text);
    if (text.starts_with('+'))
    {
        text.remove_prefix(1);
    }
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    {
        base = 16;
        text.remove_prefix(2);
    }
    else if (text.size() > 1 && text[0] == '0')
    {
        base = 8;
        text.remove_prefix(1);
    }
    if (text.empty())
    {
        return -1;
    }
    uint64_t value = 0;
    for (char c : text)
    {
        unsigned digit = 0;
        if (c >= '0' && c <= '9')
        {
            digit = unsigned(c - '0');
        }
        else if (c >= 'a' && c <= 'f')
        {
            digit = unsigned(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F')
        {
            digit = unsigned(c - 'A' + 10);
        }
        else
        {
            return -1;
        }
        if (digit >= base || value > (max - digit) / base)
        {
            return -1;
        }
        value = value * base + digit;
    }
    return static_cast<int64_t>(value);
}

int kstrtobool(std::string_view text)
{
    text = cString(text);
    if (text.empty())
    {
        return -1;
    }
    switch (text[0])
    {
        case 'y':
        case 'Y':
        case 't':
        case 'T':
        case '1':
            return 1;
        case 'n':
        case 'N':
        case 'f':
        case 'F':
        case '0':
            return 0;
        case 'o':
        case 'O':
            if (text.size() > 1 && (text[1] == 'n' || text[1] == 'N'))
            {
                return 1;
            }
            if (text.size() > 1 && (text[1] == 'f' || text[1] == 'F'))
            {
                return 0;
            }
            return -1;
        default:
            return -1;
    }
}

} // namespace vfiod::sim
