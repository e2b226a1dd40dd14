// Whole-sequence clients of the benchmarks, and the splice baseline:
//
//   cycles BUS ADDRESS N     N x (Bind, Unbind) on one device
//   bind BUS ADDRESS...      Bind each device, one after the other
//   unbind BUS ADDRESS...    Unbind each device
//   save BUS ADDRESS         SaveState into a pipe this process drains
//   splice BYTES             the floor of that: BYTES written into a pipe,
//                            spliced into a second pipe, drained from it
//   splice-file FILE         FILE spliced into a pipe and drained: the
//                            floor of a stream whose source is a file (the
//                            simulated device's data fd is one)
//
// Each prints one JSON object.

#include "bus_client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace
{

using namespace vfiod::bench;
using Clock = std::chrono::steady_clock;

constexpr size_t pipeSize = 1 << 20;
constexpr size_t chunk = 1 << 20;

double since(Clock::time_point start, Clock::time_point end = Clock::now())
{
    return std::chrono::duration<double>(end - start).count();
}

struct Pipe
{
    int read = -1;
    int write = -1;

    Pipe()
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0)
        {
            throw std::runtime_error(std::string("pipe: ") +
                                     std::strerror(errno));
        }
        read = fds[0];
        write = fds[1];
        // Both sides get the same pipe size, so neither gains on the other
        // from bigger buffers.
        ::fcntl(read, F_SETPIPE_SZ, static_cast<int>(pipeSize));
    }
    ~Pipe()
    {
        closeRead();
        closeWrite();
    }
    void closeRead()
    {
        if (read >= 0)
        {
            ::close(read);
            read = -1;
        }
    }
    void closeWrite()
    {
        if (write >= 0)
        {
            ::close(write);
            write = -1;
        }
    }
};

/** Reads a pipe to its end: what QEMU's migration stream reader does. */
struct Drain
{
    uint64_t bytes = 0;
    std::optional<Clock::time_point> first;
    Clock::time_point last; ///< the last data; EOF may come much later
    Clock::time_point end;

    void run(int fd)
    {
        std::vector<char> buffer(chunk);
        for (;;)
        {
            ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                break;
            }
            if (!first)
            {
                first = Clock::now();
            }
            bytes += static_cast<uint64_t>(n);
            last = Clock::now();
        }
        end = Clock::now();
    }
};

int cycles(const std::string& bus, const std::string& address, long count)
{
    BusClient client(bus);
    std::string path = devicePath(address);
    auto start = Clock::now();
    for (long i = 0; i < count; ++i)
    {
        client.call(path, deviceInterface, "Bind", true);
        client.call(path, deviceInterface, "Unbind", true);
    }
    std::printf("{\"cycles\": %ld, \"seconds\": %.6f}\n", count, since(start));
    return 0;
}

int each(const std::string& bus, const char* member,
         const std::vector<std::string>& addresses)
{
    BusClient client(bus);
    auto start = Clock::now();
    for (const std::string& address : addresses)
    {
        client.call(devicePath(address), deviceInterface, member, true);
    }
    std::printf("{\"devices\": %zu, \"seconds\": %.6f}\n", addresses.size(),
                since(start));
    return 0;
}

void printStream(const Drain& drain, Clock::time_point start)
{
    // The rate is first to last byte: before the first the device
    // serialises its state, after the last it is walked to STOP and the
    // call returns; both are reported beside it.
    double total = since(start, drain.end);
    double first = drain.first ? since(start, *drain.first) : total;
    double streaming = drain.first ? since(*drain.first, drain.last) : 0;
    std::printf("{\"bytes\": %llu, \"seconds\": %.6f, \"first_byte\": %.6f, "
                "\"streaming\": %.6f, \"after_last_byte\": %.6f}\n",
                static_cast<unsigned long long>(drain.bytes), total, first,
                streaming, total - first - streaming);
}

int save(const std::string& bus, const std::string& address)
{
    BusClient client(bus);
    std::string path = devicePath(address);
    Pipe pipe;
    sd_bus_message* call = nullptr;
    sd_bus_message* reply = nullptr;
    sd_bus_error error{}; // SD_BUS_ERROR_NULL, without its C99 literal
    int r = sd_bus_message_new_method_call(client.get(), &call, service,
                                           path.c_str(), deviceInterface,
                                           "SaveState");
    if (r >= 0)
    {
        r = sd_bus_message_append(call, "ha{sv}", pipe.write, 0);
    }
    if (r < 0)
    {
        throw std::runtime_error(std::string("SaveState message: ") +
                                 std::strerror(-r));
    }
    // The message holds its own copy: the stream ends when vfiod closes its.
    pipe.closeWrite();
    Drain drain;
    auto start = Clock::now();
    std::thread reader([&] { drain.run(pipe.read); });
    r = sd_bus_call(client.get(), call, 0, &error, &reply);
    // The message's copy of the write end must go too, or no EOF comes.
    call = sd_bus_message_unref(call);
    reader.join();
    std::string why = r < 0 && error.name != nullptr
                          ? std::string(error.name) + ": " +
                                (error.message ? error.message : "")
                          : "";
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    if (r < 0)
    {
        throw std::runtime_error("SaveState: " + why);
    }
    printStream(drain, start);
    return 0;
}

int splice(uint64_t bytes)
{
    Pipe in;
    Pipe out;
    Drain drain;
    auto start = Clock::now();
    std::thread writer([&] {
        std::vector<char> buffer(chunk, 'x');
        for (uint64_t left = bytes; left > 0;)
        {
            size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk));
            ssize_t w = ::write(in.write, buffer.data(), n);
            if (w <= 0)
            {
                break;
            }
            left -= static_cast<uint64_t>(w);
        }
        in.closeWrite();
    });
    std::thread reader([&] { drain.run(out.read); });
    for (;;)
    {
        ssize_t n = ::splice(in.read, nullptr, out.write, nullptr, chunk,
                             SPLICE_F_MOVE);
        if (n <= 0)
        {
            break;
        }
    }
    out.closeWrite();
    writer.join();
    reader.join();
    printStream(drain, start);
    return drain.bytes == bytes ? 0 : 1;
}

int spliceFile(const std::string& path)
{
    int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0)
    {
        throw std::runtime_error(path + ": " + std::strerror(errno));
    }
    Pipe out;
    Drain drain;
    auto start = Clock::now();
    std::thread reader([&] { drain.run(out.read); });
    for (;;)
    {
        ssize_t n =
            ::splice(in, nullptr, out.write, nullptr, chunk, SPLICE_F_MOVE);
        if (n <= 0)
        {
            break;
        }
    }
    out.closeWrite();
    reader.join();
    ::close(in);
    printStream(drain, start);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> a(argv + 1, argv + argc);
    try
    {
        if (a.size() == 4 && a[0] == "cycles")
        {
            return cycles(a[1], a[2], std::stol(a[3]));
        }
        if (a.size() >= 2 && (a[0] == "bind" || a[0] == "unbind"))
        {
            return each(a[1], a[0] == "bind" ? "Bind" : "Unbind",
                        std::vector<std::string>(a.begin() + 2, a.end()));
        }
        if (a.size() == 3 && a[0] == "save")
        {
            return save(a[1], a[2]);
        }
        if (a.size() == 2 && a[0] == "splice")
        {
            return splice(std::stoull(a[1]));
        }
        if (a.size() == 2 && a[0] == "splice-file")
        {
            return spliceFile(a[1]);
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "vfiod-bench-client: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: vfiod-bench-client cycles BUS ADDRESS N | bind BUS "
                 "ADDRESS... | unbind BUS ADDRESS... | save BUS ADDRESS | "
                 "splice BYTES | splice-file FILE\n";
    return 2;
}
