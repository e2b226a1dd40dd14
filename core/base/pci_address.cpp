#include "base/pci_address.hpp"

#include "base/error.hpp"
#include "base/text_escape.hpp"

#include <cctype>
#include <cstdio>

namespace vfiod
{

namespace
{

bool isLowerHex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int hexValue(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/**
 * "DDDD<sep>BB<sep>DD<last>F", by hand: addresses are formatted for every
 * sysfs path, log line and object path, and snprintf was a fifth of a
 * simulated bind (bench/).
 */
std::string formatAddress(const PciAddress& a, char sep, char last)
{
    static constexpr char digits[] = "0123456789abcdef";
    char buf[20];
    char* out = buf;
    int width = 4;
    while (width < 8 && (a.domain >> (4 * width)) != 0)
    {
        ++width;
    }
    for (int shift = 4 * (width - 1); shift >= 0; shift -= 4)
    {
        *out++ = digits[(a.domain >> shift) & 0xf];
    }
    *out++ = sep;
    *out++ = digits[a.bus >> 4];
    *out++ = digits[a.bus & 0xf];
    *out++ = sep;
    *out++ = digits[(a.device >> 4) & 0xf];
    *out++ = digits[a.device & 0xf];
    *out++ = last;
    *out++ = digits[a.function & 0xf];
    return std::string(buf, static_cast<size_t>(out - buf));
}

/** @brief What the caller wrote, escaped and capped: an address comes from
 * a D-Bus argument or the command line, and its refusal is logged. */
std::string quoted(std::string_view text)
{
    return text::quotedArgument(text);
}

/** Parses exactly n lowercase hex digits at text[pos]; returns why not. */
std::string readHex(std::string_view text, size_t& pos, size_t minDigits,
                    size_t maxDigits, const char* field, uint32_t& value)
{
    size_t start = pos;
    value = 0;
    while (pos < text.size() && pos - start < maxDigits + 1 &&
           std::isxdigit(static_cast<unsigned char>(text[pos])))
    {
        if (!isLowerHex(text[pos]))
        {
            return std::string("uppercase hex digit '") + text[pos] +
                   "' in the " + field +
                   " (the kernel prints addresses in lowercase)";
        }
        if (pos - start == maxDigits)
        {
            return std::string("the ") + field + " has more than " +
                   std::to_string(maxDigits) + " hex digits";
        }
        value = value * 16 + static_cast<uint32_t>(hexValue(text[pos]));
        ++pos;
    }
    size_t n = pos - start;
    if (n < minDigits)
    {
        return std::string("the ") + field + " needs " +
               (minDigits == maxDigits ? "exactly " : "at least ") +
               std::to_string(minDigits) + " hex digits";
    }
    return {};
}

std::string expect(std::string_view text, size_t& pos, char c)
{
    if (pos >= text.size())
    {
        return std::string("it ends where '") + c + "' was expected";
    }
    if (text[pos] != c)
    {
        return std::string("found '") + text[pos] + "' where '" + c +
               "' was expected at offset " + std::to_string(pos);
    }
    ++pos;
    return {};
}

std::string parseInto(std::string_view text, PciAddress& out)
{
    if (text.empty())
    {
        return "it is empty";
    }
    if (text.size() > 32)
    {
        return "it is too long";
    }
    for (char c : text)
    {
        if (c == '/')
        {
            return "it contains a path separator";
        }
        if (std::isspace(static_cast<unsigned char>(c)))
        {
            return "it contains white space";
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f ||
            static_cast<unsigned char>(c) >= 0x80)
        {
            return "it contains a control or non-ASCII character";
        }
    }
    if (text.find("..") != std::string_view::npos)
    {
        return "it contains \"..\"";
    }

    // The long form has two colons, the short one a single colon.
    size_t colons = 0;
    for (char c : text)
    {
        colons += c == ':';
    }
    size_t pos = 0;
    uint32_t domain = 0;
    uint32_t bus = 0;
    uint32_t device = 0;
    uint32_t function = 0;
    std::string why;
    if (colons == 2)
    {
        if (!(why = readHex(text, pos, 4, 8, "domain", domain)).empty() ||
            !(why = expect(text, pos, ':')).empty())
        {
            return why;
        }
    }
    else if (colons != 1)
    {
        return "expected DDDD:BB:DD.F or BB:DD.F";
    }
    if (!(why = readHex(text, pos, 2, 2, "bus", bus)).empty() ||
        !(why = expect(text, pos, ':')).empty() ||
        !(why = readHex(text, pos, 2, 2, "device", device)).empty() ||
        !(why = expect(text, pos, '.')).empty())
    {
        return why;
    }
    if (pos >= text.size())
    {
        return "the function number is missing";
    }
    char f = text[pos++];
    if (f < '0' || f > '9')
    {
        return std::string("the function must be a digit 0-7, not '") + f + "'";
    }
    function = static_cast<uint32_t>(f - '0');
    if (pos != text.size())
    {
        return "trailing characters after the function: " +
               quoted(text.substr(pos));
    }
    if (device > 0x1f)
    {
        return "device number " + std::to_string(device) +
               " out of range (00-1f)";
    }
    if (function > 7)
    {
        return "function number out of range (0-7)";
    }
    out.domain = domain;
    out.bus = static_cast<uint8_t>(bus);
    out.device = static_cast<uint8_t>(device);
    out.function = static_cast<uint8_t>(function);
    return {};
}

} // namespace

PciAddress PciAddress::parse(std::string_view text)
{
    PciAddress out;
    std::string why = parseInto(text, out);
    if (!why.empty())
    {
        fail(Errc::InvalidArgument,
             "invalid PCI address " + quoted(text) + ": " + why);
    }
    return out;
}

bool PciAddress::tryParse(std::string_view text, PciAddress& out) noexcept
{
    try
    {
        return parseInto(text, out).empty();
    }
    catch (...)
    {
        return false;
    }
}

std::string PciAddress::str() const
{
    return formatAddress(*this, ':', '.');
}

std::string PciAddress::objectPathElement() const
{
    std::string element = "pci_";
    element += formatAddress(*this, '_', '_');
    return element;
}

PciAddress PciAddress::fromObjectPathElement(std::string_view element)
{
    if (element.size() < 4 || element.substr(0, 4) != "pci_")
    {
        fail(Errc::InvalidArgument, "object path element " + quoted(element) +
                                        " does not start with pci_");
    }
    std::string text(element.substr(4));
    // pci_DDDD_BB_DD_F: the last underscore separates the function.
    size_t last = text.rfind('_');
    if (last != std::string::npos)
    {
        text[last] = '.';
    }
    for (char& c : text)
    {
        if (c == '_')
        {
            c = ':';
        }
    }
    return parse(text);
}

} // namespace vfiod
