#include "base/text_escape.hpp"

#include <cstdio>

namespace vfiod::text
{

namespace
{

void appendHex(std::string& out, unsigned char byte)
{
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\x%02x", byte);
    out += buffer;
}

/**
 * @brief The length of the valid UTF-8 sequence at the start of @p text
 * and its code point, or 0 when it is not one (overlong, surrogate, past
 * U+10FFFF, cut short).
 */
size_t utf8Sequence(std::string_view text, char32_t& codePoint) noexcept
{
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char lead = byte(0);
    size_t length = 0;
    char32_t min = 0;
    if (lead >= 0xc2 && lead <= 0xdf)
    {
        length = 2;
        codePoint = lead & 0x1f;
        min = 0x80;
    }
    else if (lead >= 0xe0 && lead <= 0xef)
    {
        length = 3;
        codePoint = lead & 0x0f;
        min = 0x800;
    }
    else if (lead >= 0xf0 && lead <= 0xf4)
    {
        length = 4;
        codePoint = lead & 0x07;
        min = 0x10000;
    }
    else
    {
        return 0;
    }
    if (text.size() < length)
    {
        return 0;
    }
    for (size_t i = 1; i < length; ++i)
    {
        if ((byte(i) & 0xc0) != 0x80)
        {
            return 0;
        }
        codePoint = (codePoint << 6) | (byte(i) & 0x3f);
    }
    bool surrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
    if (codePoint < min || codePoint > 0x10ffff || surrogate)
    {
        return 0;
    }
    return length;
}

} // namespace

std::string escaped(std::string_view text, size_t maxBytes)
{
    size_t cut = 0;
    if (text.size() > maxBytes)
    {
        // Back to the start of a character, so that the cut does not leave
        // half of one to be escaped as invalid bytes.
        size_t keep = maxBytes;
        while (keep > 0 &&
               (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80)
        {
            --keep;
        }
        cut = text.size() - keep;
        text = text.substr(0, keep);
    }
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size())
    {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f)
        {
            out += static_cast<char>(byte);
            ++i;
            continue;
        }
        switch (byte)
        {
            case '\n':
                out += "\\n";
                ++i;
                continue;
            case '\r':
                out += "\\r";
                ++i;
                continue;
            case '\t':
                out += "\\t";
                ++i;
                continue;
            default:
                break;
        }
        char32_t codePoint = 0;
        size_t length =
            byte < 0x80 ? 0 : utf8Sequence(text.substr(i), codePoint);
        if (length == 0)
        {
            appendHex(out, byte);
            ++i;
        }
        else if (codePoint < 0xa0)
        {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x",
                          static_cast<unsigned>(codePoint));
            out += buffer;
            i += length;
        }
        else
        {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    if (cut > 0)
    {
        out += "…(" + std::to_string(cut) + " bytes cut)";
    }
    return out;
}

std::string quotedArgument(std::string_view text)
{
    return "\"" + escaped(text, maxQuoted) + "\"";
}

} // namespace vfiod::text
