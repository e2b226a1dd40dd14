#include "lease.hpp"

#include "logging.hpp"
#include "main_loop.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <system_error>

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
    loop(loop), onExpired(std::move(onExpired))
{}

LeaseTable::~LeaseTable()
{
    for (auto& [address, lease] : leases)
    {
        loop.unwatch(lease.fd.get());
    }
}

void LeaseTable::hold(const PciAddress& address, const std::string& owner,
                      UniqueFd daemonEnd)
{
    drop(address);
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
