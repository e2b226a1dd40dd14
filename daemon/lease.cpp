#include "lease.hpp"

#include "logging.hpp"
#include "main_loop.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>
#include <vector>

namespace vfiod::daemon
{

LeaseEnds makeLease()
{
    std::array<int, 2> fds{-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) < 0)
    {
        throw std::system_error(errno, std::generic_category(),
                                "cannot create a lease socket pair");
    }
    // Both ends stay open both ways: a holder may poll its end to notice
    // that vfiod went away (end of file), as vfiod notices the holder.
    return LeaseEnds{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

LeaseTable::LeaseTable(MainLoop& loop, Expired onExpired) :
    loop(loop), onExpired(std::move(onExpired)),
    timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK))
{
    if (!timer)
    {
        throw std::system_error(errno, std::generic_category(),
                                "cannot create the lease timer");
    }
    loop.watch(timer.get(), [this](short) { onTimer(); });
}

LeaseTable::~LeaseTable()
{
    for (auto& [address, lease] : leases)
    {
        loop.unwatch(lease.fd.get());
    }
    loop.unwatch(timer.get());
}

void LeaseTable::awaitReattach(const PciAddress& address,
                               const std::string& owner,
                               std::chrono::milliseconds grace)
{
    drop(address);
    detached[address] = {owner, std::chrono::steady_clock::now() + grace};
    logInfo("lease of " + address.str() + " (" + owner +
            ") waits for its holder to re-attach for " +
            std::to_string(grace.count()) + " ms");
    armTimer();
}

bool LeaseTable::awaitsReattach(const PciAddress& address) const
{
    return detached.contains(address);
}

void LeaseTable::armTimer()
{
    itimerspec spec{};
    if (!detached.empty())
    {
        auto earliest = detached.begin()->second.deadline;
        for (const auto& [address, wait] : detached)
        {
            earliest = std::min(earliest, wait.deadline);
        }
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
            earliest - std::chrono::steady_clock::now());
        // it_value 0 would disarm: a deadline already past fires at once.
        auto ns = std::max<int64_t>(left.count(), 1);
        spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
        spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    }
    ::timerfd_settime(timer.get(), 0, &spec, nullptr);
}

void LeaseTable::onTimer()
{
    uint64_t expirations = 0;
    while (::read(timer.get(), &expirations, sizeof expirations) > 0)
    {}
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<PciAddress, std::string>> expired;
    for (auto it = detached.begin(); it != detached.end();)
    {
        if (it->second.deadline <= now)
        {
            expired.emplace_back(it->first, it->second.owner);
            it = detached.erase(it);
        }
        else
        {
            ++it;
        }
    }
    armTimer();
    for (const auto& [address, owner] : expired)
    {
        logInfo("holder " + owner + " of " + address.str() +
                " did not re-attach in time: releasing the device");
        onExpired(address, owner);
    }
}

void LeaseTable::hold(const PciAddress& address, const std::string& owner,
                      UniqueFd daemonEnd)
{
    drop(address);
    if (detached.erase(address) > 0)
    {
        armTimer();
    }
    int fd = daemonEnd.get();
    leases[address] = Lease{owner, std::move(daemonEnd)};
    loop.watch(
        fd, [this, address](short revents) { onReadable(address, revents); });
    logDebug("lease of " + address.str() + " held for " + owner);
}

void LeaseTable::drop(const PciAddress& address)
{
    auto it = leases.find(address);
    if (it == leases.end())
    {
        return;
    }
    loop.unwatch(it->second.fd.get());
    logDebug("lease of " + address.str() + " closed");
    leases.erase(it);
}

void LeaseTable::reconcile(const PciAddress& address,
                           const std::optional<DeviceInfo>& info)
{
    auto wait = detached.find(address);
    if (wait != detached.end() &&
        (!info || info->state != DeviceState::Assigned ||
         info->owner != wait->second.owner))
    {
        detached.erase(wait); // released meanwhile: nothing to wait for
        armTimer();
    }
    auto it = leases.find(address);
    if (it == leases.end())
    {
        return;
    }
    if (!info || info->state != DeviceState::Assigned ||
        info->owner != it->second.owner)
    {
        drop(address);
    }
}

bool LeaseTable::holds(const PciAddress& address) const
{
    return leases.contains(address);
}

void LeaseTable::onReadable(const PciAddress& address, short revents)
{
    auto it = leases.find(address);
    if (it == leases.end())
    {
        return;
    }
    bool hungUp = (revents & (POLLHUP | POLLERR)) != 0;
    if (!hungUp)
    {
        // Whatever a holder writes is ignored; end of file is the hang-up.
        std::array<char, 256> scratch{};
        ssize_t n = ::recv(it->second.fd.get(), scratch.data(), scratch.size(),
                           MSG_DONTWAIT);
        hungUp = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    }
    if (!hungUp)
    {
        return;
    }
    std::string owner = it->second.owner;
    logInfo("holder " + owner + " of " + address.str() +
            " closed its lease: releasing the device");
    drop(address);
    onExpired(address, owner);
}

} // namespace vfiod::daemon
