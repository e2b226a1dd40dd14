#pragma once

#include "base/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

/*
 * What the fuzz targets share: the input as text, and the one way a
 * target reports a broken promise (abort, which libFuzzer and the replay
 * driver both record as a crash with the input that caused it).
 */
namespace vfiod::fuzz
{

inline std::string_view text(const uint8_t* data, size_t size) noexcept
{
    return {reinterpret_cast<const char*>(data), size};
}

/** @brief Aborts with @p what unless @p condition holds. */
inline void require(bool condition, const char* what) noexcept
{
    if (!condition)
    {
        std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
        std::abort();
    }
}

/** @brief The most a refusal's message may be: it names the file, the
 * place and the fault, and quotes at most text::maxQuoted of the input. */
inline constexpr size_t maxMessageBytes = 4096;

/**
 * @brief A parser refused its input: only with the Errc it promises, and
 * with a message fit for a log line (one line, no control characters,
 * bounded), since refusals are logged and sent back over the bus.
 */
inline void requireRefusal(const Error& e, Errc promised,
                           const char* what) noexcept
{
    if (e.code() != promised)
    {
        std::fprintf(stderr, "fuzz: %s refused with Errc %d: %s\n", what,
                     static_cast<int>(e.code()), e.what());
        std::abort();
    }
    std::string_view message = e.what();
    for (char c : message)
    {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f)
        {
            std::fprintf(stderr,
                         "fuzz: %s refused with a control character (0x%02x) "
                         "in its message: %s\n",
                         what, byte, e.what());
            std::abort();
        }
    }
    if (message.size() > maxMessageBytes)
    {
        std::fprintf(stderr, "fuzz: %s refused with a message of %zu bytes\n",
                     what, message.size());
        std::abort();
    }
}

} // namespace vfiod::fuzz
