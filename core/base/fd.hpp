#pragma once

#include <unistd.h>

#include <utility>

namespace vfiod
{

/**
 * @brief Owns one file descriptor and closes it on destruction, so that no
 * early return or exception can leak it.
 */
class UniqueFd
{
  public:
    UniqueFd() noexcept = default;

    /** @brief Takes ownership of @p fd (-1 means none). */
    explicit UniqueFd(int fd) noexcept : value(fd) {}

    UniqueFd(UniqueFd&& other) noexcept : value(other.release()) {}

    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        if (this != &other)
        {
            reset(other.release());
        }
        return *this;
    }

    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    ~UniqueFd()
    {
        reset();
    }

    int get() const noexcept
    {
        return value;
    }

    explicit operator bool() const noexcept
    {
        return value >= 0;
    }

    /** @brief Gives up ownership without closing. */
    int release() noexcept
    {
        return std::exchange(value, -1);
    }

    /** @brief Closes the current descriptor and takes @p fd instead. */
    void reset(int fd = -1) noexcept
    {
        int old = std::exchange(value, fd);
        if (old >= 0)
        {
            // close() may fail with EINTR, but the descriptor is gone on
            // Linux either way: retrying would close someone else's fd.
            ::close(old);
        }
    }

  private:
    int value = -1;
};

} // namespace vfiod
