#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace vfioctl
{

/**
 * @brief A minimal streaming JSON emitter, compact, one document per call
 * sequence.
 *
 * It inserts the commas and colons itself, so callers only state structure:
 *
 *     JsonWriter json(std::cout);
 *     json.beginObject();
 *     json.key("Address");
 *     json.value("0000:03:00.0");
 *     json.endObject();
 *
 * Strings are escaped per RFC 8259. They are copied through as UTF-8
 * without validation: every string vfioctl prints comes off D-Bus, whose
 * wire format already guarantees valid UTF-8.
 */
class JsonWriter
{
  public:
    explicit JsonWriter(std::ostream& out);

    void beginObject();
    void endObject();
    void beginArray();
    void endArray();

    /** @brief Names the next member; only valid directly inside an object. */
    void key(std::string_view name);

    void value(std::string_view text);
    void value(const char* text);
    void value(bool flag);
    void value(int64_t number);
    void value(uint64_t number);
    /** @brief NaN and infinities, which JSON cannot express, become null. */
    void value(double number);
    void null();

    /** @brief Writes @p text as a quoted, escaped JSON string. */
    static void writeString(std::ostream& out, std::string_view text);

  private:
    /** Emits the separator a new value needs at the current position. */
    void separate();

    std::ostream& out;
    /** One entry per open container: whether it has a member yet. */
    std::vector<bool> hasMember;
    /** A key was written and its value is still due. */
    bool afterKey = false;
};

} // namespace vfioctl
