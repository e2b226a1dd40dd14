#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace vfioctl
{

JsonWriter::JsonWriter(std::ostream& out) : out(out) {}

void JsonWriter::separate()
{
    if (afterKey)
    {
        // The key already placed the comma; the value follows its colon.
        afterKey = false;
        return;
    }
    if (!hasMember.empty())
    {
        if (hasMember.back())
        {
            out << ',';
        }
        hasMember.back() = true;
    }
}

void JsonWriter::beginObject()
{
    separate();
    out << '{';
    hasMember.push_back(false);
}

void JsonWriter::endObject()
{
    hasMember.pop_back();
    out << '}';
}

void JsonWriter::beginArray()
{
    separate();
    out << '[';
    hasMember.push_back(false);
}

void JsonWriter::endArray()
{
    hasMember.pop_back();
    out << ']';
}

void JsonWriter::key(std::string_view name)
{
    separate();
    writeString(out, name);
    out << ':';
    afterKey = true;
}

void JsonWriter::value(std::string_view text)
{
    separate();
    writeString(out, text);
}

void JsonWriter::value(const char* text)
{
    value(std::string_view(text));
}

void JsonWriter::value(bool flag)
{
    separate();
    out << (flag ? "true" : "false");
}

void JsonWriter::value(int64_t number)
{
    separate();
    out << number;
}

void JsonWriter::value(uint64_t number)
{
    separate();
    out << number;
}

void JsonWriter::value(double number)
{
    if (!std::isfinite(number))
    {
        null();
        return;
    }
    separate();
    // %.17g round-trips every double; the stream's default 6 digits don't.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", number);
    out << buf;
}

void JsonWriter::null()
{
    separate();
    out << "null";
}

void JsonWriter::writeString(std::ostream& out, std::string_view text)
{
    out << '"';
    for (char c : text)
    {
        switch (c)
        {
            case '"':
                out << "\\\"";
                break;
            case '\\':
                out << "\\\\";
                break;
            case '\b':
                out << "\\b";
                break;
            case '\f':
                out << "\\f";
                break;
            case '\n':
                out << "\\n";
                break;
            case '\r':
                out << "\\r";
                break;
            case '\t':
                out << "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20)
                {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x",
                                  static_cast<unsigned char>(c));
                    out << buf;
                }
                else
                {
                    out << c;
                }
        }
    }
    out << '"';
}

} // namespace vfioctl
