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

/** @brief A parser refused its input: only with the Errc it promises. */
inline void requireRefusal(const Error& e, Errc promised,
                           const char* what) noexcept
{
    if (e.code() != promised)
    {
        std::fprintf(stderr, "fuzz: %s refused with Errc %d: %s\n", what,
                     static_cast<int>(e.code()), e.what());
        std::abort();
    }
}

} // namespace vfiod::fuzz
