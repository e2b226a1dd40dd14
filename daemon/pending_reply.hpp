#pragma once

#include "error_map.hpp"
#include "logging.hpp"
#include "main_loop.hpp"

#include <sdbus-c++/Error.h>
#include <sdbus-c++/MethodResult.h>

#include <optional>
#include <string>
#include <utility>

namespace vfiod::daemon
{

/**
 * @brief The reply owed to one asynchronous method call, carried by the
 * job that computes it.
 *
 * Move-only, and it replies exactly once: a guard that is destroyed
 * without having replied (a job dropped at shutdown, a code path that
 * forgot) sends org.vfiod1.Error.Failed, because in sdbus-c++ 1.2 a
 * dropped sdbus::Result sends nothing and the caller would wait for its
 * timeout.
 *
 * The reply itself is sent from the main loop, after the tasks posted
 * before it: the PropertiesChanged of a Bind reach the bus before its
 * method return, so a caller that sees the reply sees the new state.
 */
template <typename... Results>
class PendingReply
{
    static_assert(sizeof...(Results) <= 1, "vfiod methods return 0 or 1 value");

  public:
    using Result = sdbus::Result<Results...>;

    PendingReply(Result&& result, MainLoop& loop, std::string what) :
        result(std::move(result)), loop(&loop), what(std::move(what))
    {}

    PendingReply(PendingReply&& other) noexcept :
        result(std::exchange(other.result, std::nullopt)), loop(other.loop),
        what(std::move(other.what))
    {}

    PendingReply& operator=(PendingReply&&) = delete;
    PendingReply(const PendingReply&) = delete;
    PendingReply& operator=(const PendingReply&) = delete;

    ~PendingReply()
    {
        if (result)
        {
            logError(what + ": request dropped without a reply");
            fail(sdbus::Error(busErrorName(Errc::Failed),
                              what + ": vfiod dropped the request"));
        }
    }

    /** @brief What the call is, for messages: "Bind 0000:03:00.0". */
    const std::string& description() const noexcept
    {
        return what;
    }

    /**
     * @brief Runs @p step on the main loop and then replies with what it
     * returns; an exception from @p step becomes the error reply.
     * @p step: Results... step() for one result, void step() for none.
     */
    template <typename Step>
    void finish(Step&& step)
    {
        if (!result)
        {
            logError(what + ": replied twice, ignoring");
            return;
        }
        loop->post([result = takeResult(), step = std::forward<Step>(step),
                    what = what]() mutable {
            try
            {
                if constexpr (sizeof...(Results) == 0)
                {
                    step();
                    result.returnResults();
                }
                else
                {
                    result.returnResults(step());
                }
            }
            catch (...)
            {
                result.returnError(currentBusError(what));
            }
        });
    }

    void succeed(Results... values)
    {
        finish([... values = std::move(values)]() mutable {
            if constexpr (sizeof...(Results) != 0)
            {
                return (std::move(values), ...);
            }
        });
    }

    void fail(sdbus::Error error)
    {
        if (!result)
        {
            logError(what + ": replied twice, ignoring");
            return;
        }
        loop->post([result = takeResult(), error = std::move(error)]() {
            result.returnError(error);
        });
    }

  private:
    Result takeResult()
    {
        Result taken = std::move(*result);
        result.reset();
        return taken;
    }

    std::optional<Result> result;
    MainLoop* loop;
    std::string what;
};

} // namespace vfiod::daemon
