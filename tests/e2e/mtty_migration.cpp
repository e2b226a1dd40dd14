// mtty_migration UUID_A UUID_B: VFIO migration of the kernel's mtty sample
// device (two mdevs of type mtty-2), driven through the code vfiod uses for
// migration on a real VFIO device: the vfio-pci plugin's ioctl layer
// (plugins/vfio-pci/vfio_uapi.c) and vfiod's state machine
// (core/kernel/migration_fsm.cpp). Every request is walked with walk() and its
// arcs applied one at a time; a request walk() refuses never reaches the
// kernel (on 6.12.95 STOP_COPY->PRE_COPY spins forever in the kernel).
//
// Runs in the e2e_mtty guest (tests/e2e/run-mtty.sh). Prints one
// "mtty: ok ..." or "mtty: FAIL ..." line per check; exit status 0 when
// every check passed.
//
// One file over 500 lines on purpose: it is the guest's one program, built
// static into the initramfs, and its checks run in sequence on the same two
// mdevs, each from the state the previous one left (a failed arc's ERROR is
// what the reset check starts from).
#include "base/error.hpp"
#include "kernel/migration_fsm.hpp"

extern "C"
{
#include "vfio_uapi.h"
}

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace
{

using vfiod::migration::State;
namespace mig = vfiod::migration;

int failures = 0;
int checks = 0;

void ok(const std::string& what)
{
    ++checks;
    std::printf("mtty: ok %s\n", what.c_str());
}

void bad(const std::string& what)
{
    ++failures;
    std::printf("mtty: FAIL %s\n", what.c_str());
}

void expect(bool good, const std::string& what)
{
    good ? ok(what) : bad(what);
}

std::string err(int negErrno)
{
    return negErrno == 0 ? "0" : std::string(std::strerror(-negErrno));
}

std::string name(State s)
{
    return std::string(mig::stateName(s));
}

// The ioctl layer's entry point, counting calls: a refused request must
// make none.
unsigned long ioctls = 0;
int countingIoctl(int fd, unsigned long request, void* arg)
{
    ++ioctls;
    return vfio_uapi_ioctl(fd, request, arg);
}

struct Device
{
    std::string uuid;
    int fd = -1;
    int dataFd = -1; // the stream of the current save or resume
    uint64_t bar0 = 0;
    mig::Flags flags = 0;
};

int container = -1;

bool openDevice(Device& d)
{
    char target[256] = {};
    std::string link = "/sys/bus/mdev/devices/" + d.uuid + "/iommu_group";
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n < 0)
    {
        bad("readlink " + link + ": " + std::strerror(errno));
        return false;
    }
    std::string group = std::string(target, static_cast<size_t>(n));
    group = group.substr(group.rfind('/') + 1);
    std::string path = "/dev/vfio/" + group;
    int g = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (g < 0)
    {
        bad("open " + path + ": " + std::strerror(errno));
        return false;
    }
    vfio_group_status status{};
    status.argsz = sizeof status;
    if (::ioctl(g, VFIO_GROUP_GET_STATUS, &status) < 0 ||
        !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
    {
        bad(path + " not viable");
        return false;
    }
    if (::ioctl(g, VFIO_GROUP_SET_CONTAINER, &container) < 0)
    {
        bad(std::string("VFIO_GROUP_SET_CONTAINER: ") + std::strerror(errno));
        return false;
    }
    static bool iommuSet = false;
    if (!iommuSet && ::ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
    {
        bad(std::string("VFIO_SET_IOMMU: ") + std::strerror(errno));
        return false;
    }
    iommuSet = true;
    d.fd = ::ioctl(g, VFIO_GROUP_GET_DEVICE_FD, d.uuid.c_str());
    if (d.fd < 0)
    {
        bad("VFIO_GROUP_GET_DEVICE_FD " + d.uuid + ": " + std::strerror(errno));
        return false;
    }
    vfio_region_info bar{};
    bar.argsz = sizeof bar;
    bar.index = VFIO_PCI_BAR0_REGION_INDEX;
    if (::ioctl(d.fd, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0)
    {
        bad(std::string("BAR0 region info: ") + std::strerror(errno));
        return false;
    }
    d.bar0 = bar.offset;
    ok("opened " + d.uuid + " through group " + group);
    return true;
}

State current(Device& d)
{
    uint32_t s = 0;
    int ret = vfio_uapi_get_state(countingIoctl, d.fd, &s);
    if (ret != 0)
    {
        bad("GET MIG_DEVICE_STATE: " + err(ret));
        return State::Error;
    }
    return mig::stateFromNumber(s).value_or(State::Error);
}

void closeData(Device& d)
{
    if (d.dataFd >= 0)
    {
        ::close(d.dataFd);
        d.dataFd = -1;
    }
}

// A valid stream, written into the device whenever a walk leaves RESUMING.
std::vector<uint8_t> goodStream;

/** One arc through the ioctl layer; the state checked afterwards. */
bool applyArc(Device& d, State from, State to, bool quiet)
{
    if (!mig::isArc(from, to, d.flags))
    {
        bad("walk produced " + name(from) + "->" + name(to) +
            ", not a single arc");
        return false;
    }
    if (from == State::Resuming && to == State::Stop && d.dataFd >= 0)
    {
        ssize_t n = ::write(d.dataFd, goodStream.data(), goodStream.size());
        if (n != static_cast<ssize_t>(goodStream.size()))
        {
            bad("writing the stream before RESUMING->STOP: " +
                std::string(n < 0 ? std::strerror(errno) : "short write"));
        }
    }
    int fd = -1;
    int ret = vfio_uapi_set_state(countingIoctl, d.fd,
                                  static_cast<uint32_t>(to), &fd);
    if (ret != 0)
    {
        bad("arc " + name(from) + "->" + name(to) + ": " + err(ret));
        return false;
    }
    if (fd >= 0)
    {
        closeData(d);
        d.dataFd = fd;
    }
    if (mig::arcCarriesData(from, to) != (fd >= 0))
    {
        bad("arc " + name(from) + "->" + name(to) + ": data fd " +
            std::to_string(fd));
    }
    if (to == State::Stop || to == State::Running || to == State::RunningP2P)
    {
        closeData(d);
    }
    State now = current(d);
    if (now != to)
    {
        bad("after " + name(from) + "->" + name(to) + " the device is in " +
            name(now));
        return false;
    }
    if (!quiet)
    {
        ok("arc " + name(from) + "->" + name(to));
    }
    return true;
}

/**
 * A request as vfiod handles it: walk() first (which refuses blocked
 * requests), then the arcs one by one. @return false when refused or
 * failed; *refused tells which.
 */
bool request(Device& d, State target, bool quiet, std::string* path = nullptr,
             bool* refused = nullptr)
{
    State from = current(d);
    std::vector<State> arcs;
    try
    {
        arcs = mig::walk(from, target, d.flags);
    }
    catch (const vfiod::Error& e)
    {
        if (refused)
        {
            *refused = true;
        }
        if (path)
        {
            *path = e.what();
        }
        return false;
    }
    std::string trace = name(from);
    for (State next : arcs)
    {
        if (!applyArc(d, from, next, true))
        {
            return false;
        }
        trace += ">" + name(next);
        from = next;
    }
    if (path)
    {
        *path = trace;
    }
    if (!quiet)
    {
        ok("request " + name(target) + ": " + trace);
    }
    return true;
}

std::vector<uint8_t> readAll(int fd, int* lastErrno)
{
    std::vector<uint8_t> bytes;
    uint8_t buf[64];
    *lastErrno = 0;
    for (;;)
    {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0)
        {
            *lastErrno = errno;
            break;
        }
        if (n == 0)
        {
            break;
        }
        bytes.insert(bytes.end(), buf, buf + n);
    }
    return bytes;
}

// The UART of port 0 in BAR0: scratch register (7), THR/RBR (0).
bool uartWrite(Device& d, unsigned reg, uint8_t value)
{
    return ::pwrite(d.fd, &value, 1, static_cast<off_t>(d.bar0 + reg)) == 1;
}
int uartRead(Device& d, unsigned reg)
{
    uint8_t v = 0;
    return ::pread(d.fd, &v, 1, static_cast<off_t>(d.bar0 + reg)) == 1 ? v : -1;
}

/** Saves a device's state: from RUNNING through STOP_COPY, back to RUNNING. */
std::vector<uint8_t> saveStopCopy(Device& d)
{
    std::vector<uint8_t> bytes;
    if (request(d, State::StopCopy, true) && d.dataFd >= 0)
    {
        int e = 0;
        bytes = readAll(d.dataFd, &e);
        if (e != 0)
        {
            bad(std::string("reading the stop-copy stream: ") +
                std::strerror(e));
        }
    }
    request(d, State::Running, true);
    return bytes;
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc != 3)
    {
        std::fprintf(stderr, "usage: mtty_migration UUID_A UUID_B\n");
        return 2;
    }
    container = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0)
    {
        bad(std::string("open /dev/vfio/vfio: ") + std::strerror(errno));
        return 1;
    }
    Device a{argv[1]};
    Device b{argv[2]};
    if (!openDevice(a) || !openDevice(b))
    {
        return 1;
    }

    // Migration flags and the stop-copy size.
    for (Device* d : {&a, &b})
    {
        uint64_t flags = 0;
        int ret = vfio_uapi_get_flags(countingIoctl, d->fd, &flags);
        expect(ret == 0 && flags == 0x7,
               "migration flags of " + d->uuid + ": 0x" +
                   (ret == 0 ? std::to_string(flags) : err(ret)) + " (" +
                   mig::formatFlags(flags) + "), expected 0x7");
        d->flags = flags;
        expect(mig::flagsValid(flags), "flags valid for vfiod");
        expect(current(*d) == State::Running, d->uuid + " starts RUNNING");
    }
    uint64_t size = 0;
    int ret = vfio_uapi_get_data_size(countingIoctl, a.fd, &size);
    expect(ret == 0 && size == 96, "MIG_DATA_SIZE " + std::to_string(size) +
                                       " (" + err(ret) + "), expected 96");

    // Something to migrate: the scratch register and a byte in the FIFO.
    expect(uartWrite(a, 7, 0x5a) && uartWrite(a, 0, 'M'),
           "UART of A written (SCR=0x5a, THR='M')");

    // Pre-copy: RUNNING->PRE_COPY hands out the stream with its header.
    std::vector<uint8_t> precopy;
    if (request(a, State::PreCopy, false) && a.dataFd >= 0)
    {
        uint64_t initial = 0, dirty = 0;
        ret = vfio_uapi_get_precopy_info(countingIoctl, a.dataFd, &initial,
                                         &dirty);
        expect(ret == 0 && initial == 24,
               "PRECOPY_INFO initial_bytes " + std::to_string(initial) +
                   " dirty " + std::to_string(dirty) + " (" + err(ret) +
                   "), expected 24");
        int e = 0;
        precopy = readAll(a.dataFd, &e);
        expect(precopy.size() == 24,
               "pre-copy data: " + std::to_string(precopy.size()) +
                   " bytes (expected 24)" +
                   (e ? std::string(", ") + std::strerror(e) : ""));
        int keep = ::dup(a.dataFd); // the same stream goes on in STOP_COPY
        request(a, State::PreCopyP2P, false);
        request(a, State::StopCopy, false);
        std::vector<uint8_t> rest = readAll(keep, &e);
        expect(rest.size() == 72, "stop-copy rest of the pre-copy stream: " +
                                      std::to_string(rest.size()) +
                                      " bytes (expected 72)");
        precopy.insert(precopy.end(), rest.begin(), rest.end());
        request(a, State::Stop, false);
        char c;
        ssize_t n = ::read(keep, &c, 1);
        expect(n < 0 && errno == ENODEV,
               "the stream's fd after STOP: " +
                   std::string(n < 0 ? std::strerror(errno) : "readable") +
                   " (expected ENODEV)");
        ::close(keep);
        request(a, State::Running, true);
    }
    else
    {
        bad("no pre-copy stream");
    }

    // Stop-copy alone: the same 96 bytes.
    std::vector<uint8_t> saved = saveStopCopy(a);
    expect(saved.size() == 96,
           "stop-copy stream of A: " + std::to_string(saved.size()) + " bytes");
    expect(saved == precopy, "pre-copy and stop-copy streams of A are equal");
    goodStream = saved;

    // Resume into B; B's state is then A's.
    expect(uartRead(b, 7) != 0x5a, "B's scratch register differs before");
    if (request(b, State::Resuming, false) && b.dataFd >= 0)
    {
        ssize_t n = ::write(b.dataFd, saved.data(), saved.size());
        expect(n == 96, "resume stream written into B: " + std::to_string(n));
        closeData(b); // ours is written; RESUMING->STOP must not write again
        request(b, State::Running, false);
        expect(uartRead(b, 7) == 0x5a, "B's scratch register after resume: " +
                                           std::to_string(uartRead(b, 7)));
        std::vector<uint8_t> again = saveStopCopy(b);
        expect(again == saved, "B saves the same stream as A");
        int rbr = uartRead(b, 0);
        expect(rbr == 'M',
               "the byte in A's FIFO is read from B: " + std::to_string(rbr));
    }
    else
    {
        bad("B did not reach RESUMING");
    }

    // Every walk between supported states, on B, arc by arc.
    const State all[] = {State::Stop,      State::Running,    State::StopCopy,
                         State::Resuming,  State::RunningP2P, State::PreCopy,
                         State::PreCopyP2P};
    int walks = 0, refusedWalks = 0;
    for (State from : all)
    {
        for (State to : all)
        {
            if (from == to)
            {
                continue;
            }
            // From STOP_COPY only STOP leads on to the pre-copy states.
            if (current(b) == State::StopCopy)
            {
                request(b, State::Stop, true);
            }
            if (!request(b, from, true))
            {
                bad("cannot reach " + name(from));
                continue;
            }
            std::string path;
            bool refused = false;
            unsigned long before = ioctls;
            if (request(b, to, true, &path, &refused))
            {
                ++walks;
                ok("walk " + name(from) + " -> " + name(to) + ": " + path);
            }
            else if (refused)
            {
                ++refusedWalks;
                bool blocked =
                    from == State::StopCopy &&
                    (to == State::PreCopy || to == State::PreCopyP2P);
                // current() makes the one ioctl below; the refusal none.
                expect(blocked && ioctls == before + 1,
                       "walk " + name(from) + " -> " + name(to) +
                           " refused by vfiod (" + path + "), " +
                           std::to_string(ioctls - before - 1) +
                           " ioctls after the state was read");
                expect(current(b) == from, "device still " + name(from));
            }
            else
            {
                bad("walk " + name(from) + " -> " + name(to) + " failed");
            }
        }
    }
    expect(walks == 40 && refusedWalks == 2,
           std::to_string(walks) + " walks done, " +
               std::to_string(refusedWalks) + " refused (expected 40, 2)");
    request(b, State::Running, true);

    // The blocked request against a device really in STOP_COPY, with a
    // stream open: refused before the kernel, the device unharmed.
    if (request(b, State::StopCopy, false))
    {
        for (State blocked : {State::PreCopy, State::PreCopyP2P})
        {
            std::string why;
            bool refused = false;
            unsigned long before = ioctls;
            bool done = request(b, blocked, true, &why, &refused);
            expect(!done && refused && ioctls == before + 1,
                   "STOP_COPY -> " + name(blocked) +
                       " refused by vfiod: " + why);
        }
        expect(current(b) == State::StopCopy, "B still in STOP_COPY");
        request(b, State::Running, false);
    }

    // A bad resume stream: a wrong magic is refused by the write (EFAULT).
    if (request(b, State::Resuming, true) && b.dataFd >= 0)
    {
        std::vector<uint8_t> badStream(saved.begin(), saved.begin() + 24);
        badStream[0] ^= 0xff;
        ssize_t n = ::write(b.dataFd, badStream.data(), badStream.size());
        expect(n < 0 && errno == EFAULT,
               "resume stream with a bad magic: " +
                   std::string(n < 0 ? std::strerror(errno)
                                     : std::to_string(n) + " bytes taken") +
                   " (expected EFAULT)");
        closeData(b);
        ret = vfio_uapi_reset(countingIoctl, b.fd);
        expect(ret == 0 && current(b) == State::Running,
               "VFIO_DEVICE_RESET out of RESUMING: " + err(ret) + ", " +
                   name(current(b)));
    }
    // A truncated one: RESUMING->STOP fails (EINVAL), the device stays
    // RESUMING; more than the device's size: ENOMEM; reset gets it out.
    if (request(b, State::Resuming, true) && b.dataFd >= 0)
    {
        ssize_t n = ::write(b.dataFd, saved.data(), 24);
        expect(n == 24, "24 bytes of a resume stream written");
        std::vector<uint8_t> tooLong(73, 0);
        n = ::write(b.dataFd, tooLong.data(), tooLong.size());
        expect(n < 0 && errno == ENOMEM,
               "a stream longer than 96 bytes: " +
                   std::string(n < 0 ? std::strerror(errno) : "taken") +
                   " (expected ENOMEM)");
        int fd = -1;
        ret = vfio_uapi_set_state(countingIoctl, b.fd,
                                  static_cast<uint32_t>(State::Stop), &fd);
        expect(ret == -EINVAL, "RESUMING->STOP after 24 bytes: " + err(ret) +
                                   " (expected EINVAL)");
        expect(current(b) == State::Resuming,
               "B stays RESUMING: " + name(current(b)));
        closeData(b);
        ret = vfio_uapi_reset(countingIoctl, b.fd);
        expect(ret == 0 && current(b) == State::Running,
               "VFIO_DEVICE_RESET out of the failed resume: " + err(ret) +
                   ", " + name(current(b)));
        expect(request(b, State::StopCopy, true) &&
                   request(b, State::Running, true),
               "B migrates again after the reset");
    }
    else
    {
        bad("B did not reach RESUMING for the bad streams");
    }

    std::printf("mtty: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
