#pragma once

#include <concepts>
#include <memory>
#include <type_traits>
#include <utility>

namespace vfiod::daemon
{

template <typename Signature>
class UniqueFunction;

/**
 * @brief A move-only std::function: jobs and loop tasks own move-only
 * things (an sdbus::Result, a lease fd) that std::function cannot hold.
 * std::move_only_function would do, but it is C++23.
 */
template <typename R, typename... Args>
class UniqueFunction<R(Args...)>
{
  public:
    UniqueFunction() = default;

    template <typename F>
    requires(!std::same_as<std::decay_t<F>, UniqueFunction> &&
             std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
        UniqueFunction(F&& f) :
        // NOLINT: implicit like std::function
        callable(std::make_unique<Holder<std::decay_t<F>>>(std::forward<F>(f)))
    {}

    UniqueFunction(UniqueFunction&&) noexcept = default;
    UniqueFunction& operator=(UniqueFunction&&) noexcept = default;

    R operator()(Args... args)
    {
        return callable->call(std::forward<Args>(args)...);
    }

    explicit operator bool() const noexcept
    {
        return callable != nullptr;
    }

  private:
    struct Callable
    {
        virtual ~Callable() = default;
        virtual R call(Args... args) = 0;
    };

    template <typename F>
    struct Holder final : Callable
    {
        explicit Holder(F&& f) : f(std::move(f)) {}
        explicit Holder(const F& f) : f(f) {}
        R call(Args... args) override
        {
            return f(std::forward<Args>(args)...);
        }
        F f;
    };

    std::unique_ptr<Callable> callable;
};

} // namespace vfiod::daemon
