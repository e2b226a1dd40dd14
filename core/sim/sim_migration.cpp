#include "sim/sim_migration.hpp"

#include "kernel/migration_fsm.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vfiod::sim
{

namespace
{

using migration::State;

constexpr std::string_view magic = "VFIODSIM";
constexpr uint32_t streamVersion = 1;
constexpr size_t headerSize = 32; // magic, version, vendor, device,
                                  // contents, payload length
constexpr size_t trailerSize = 8; // FNV-1a 64

void put(std::string& out, uint64_t value, size_t bytes)
{
    for (size_t i = 0; i < bytes; ++i)
    {
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
}

uint64_t get(std::string_view in, size_t at, size_t bytes)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i)
    {
        value |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
    }
    return value;
}

/** @brief splitmix64: a fixed, well-mixed sequence from a seed. */
uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view data)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (char c : data)
    {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

std::string header(uint16_t vendor, uint16_t device, uint64_t contents,
                   uint64_t payload)
{
    std::string out(magic);
    put(out, streamVersion, 4);
    put(out, vendor, 2);
    put(out, device, 2);
    put(out, contents, 8);
    put(out, payload, 8);
    return out;
}

/** @brief The device's "memory": generated from its identity and contents. */
void appendPayload(std::string& out, uint16_t vendor, uint16_t device,
                   uint64_t contents, uint64_t size)
{
    uint64_t seed =
        contents ^ (uint64_t{vendor} << 48) ^ (uint64_t{device} << 32);
    // Filled in place: a benchmark device carries a GiB of state.
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(size));
    char* bytes = out.data() + at;
    for (uint64_t i = 0; i < size; i += 8)
    {
        uint64_t word = mix(seed + i / 8);
        uint64_t n = std::min<uint64_t>(8, size - i);
        for (uint64_t b = 0; b < n; ++b)
        {
            bytes[i + b] = static_cast<char>((word >> (8 * b)) & 0xff);
        }
    }
}

/** @brief Bytes handed out on PRE_COPY: the header and half the payload. */
size_t precopyLength(const Device& d)
{
    return headerSize + static_cast<size_t>(d.migrationStateSize / 2);
}

bool writeFile(const std::string& path, std::string_view data, bool append)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0)
    {
        return false;
    }
    bool ok = true;
    while (ok && !data.empty())
    {
        ssize_t n = ::write(fd, data.data(), data.size());
        ok = n > 0;
        if (ok)
        {
            data.remove_prefix(static_cast<size_t>(n));
        }
    }
    return ::close(fd) == 0 && ok;
}

std::optional<std::string> readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/** @brief The stream effects of one arc; an errno, or 0. */
int streamArc(Tx& tx, Device& d, State from, State to)
{
    std::string path = streamPath(tx.streamDir, d.address);
    ::mkdir(tx.streamDir.c_str(), 0700);
    // Only the arcs that hand out data generate it: a state can be large.
    auto whole = [&d] { return generateStream(d); };
    if ((from == State::Running && to == State::PreCopy) ||
        (from == State::RunningP2P && to == State::PreCopyP2P))
    {
        return writeFile(path,
                         std::string_view(whole()).substr(0, precopyLength(d)),
                         false)
                   ? 0
                   : EIO;
    }
    if (to == State::StopCopy &&
        (from == State::PreCopy || from == State::PreCopyP2P))
    {
        // The same data_fd goes on: append what pre-copy did not give.
        return writeFile(path,
                         std::string_view(whole()).substr(precopyLength(d)),
                         true)
                   ? 0
                   : EIO;
    }
    if (from == State::Stop && to == State::StopCopy)
    {
        return writeFile(path, whole(), false) ? 0 : EIO;
    }
    if (from == State::Stop && to == State::Resuming)
    {
        return writeFile(path, "", false) ? 0 : EIO;
    }
    if (from == State::Resuming)
    {
        std::optional<std::string> got = readFile(path);
        auto result = verifyStream(d, got.value_or(""));
        if (const int* error = std::get_if<int>(&result))
        {
            if (*error == EFAULT)
            {
                d.migrationState = static_cast<uint32_t>(State::Error);
                tx.changed = true;
                ::unlink(path.c_str());
            }
            return *error;
        }
        d.migrationContents = std::get<uint64_t>(result);
    }
    bool streaming = to == State::PreCopy || to == State::PreCopyP2P ||
                     to == State::StopCopy || to == State::Resuming;
    if (!streaming)
    {
        ::unlink(path.c_str()); // the stream ends with the state
    }
    return 0;
}

} // namespace

uint64_t streamLength(uint64_t stateSize) noexcept
{
    return headerSize + stateSize + trailerSize;
}

std::string generateStream(const Device& d)
{
    std::string out =
        header(d.vendor, d.device, d.migrationContents, d.migrationStateSize);
    appendPayload(out, d.vendor, d.device, d.migrationContents,
                  d.migrationStateSize);
    put(out, fnv1a(out), trailerSize);
    return out;
}

std::variant<uint64_t, int> verifyStream(const Device& d,
                                         std::string_view stream)
{
    // What a driver checks before loading anything: EINVAL, nothing lost.
    if (stream.size() < headerSize + trailerSize ||
        stream.substr(0, magic.size()) != magic ||
        get(stream, 8, 4) != streamVersion || get(stream, 12, 2) != d.vendor ||
        get(stream, 14, 2) != d.device ||
        get(stream, 24, 8) != d.migrationStateSize ||
        stream.size() != streamLength(d.migrationStateSize))
    {
        return EINVAL;
    }
    uint64_t contents = get(stream, 16, 8);
    std::string_view body = stream.substr(0, stream.size() - trailerSize);
    std::string expected =
        header(d.vendor, d.device, contents, d.migrationStateSize);
    appendPayload(expected, d.vendor, d.device, contents, d.migrationStateSize);
    if (get(stream, body.size(), trailerSize) != fnv1a(body) ||
        body != expected)
    {
        return EFAULT; // loading failed half-way
    }
    return contents;
}

std::optional<std::string> migrationAttribute(const Device& d,
                                              std::string_view name)
{
    if (d.migrationFlags == 0 || !name.starts_with(migrationPrefix))
    {
        return std::nullopt;
    }
    name.remove_prefix(migrationPrefix.size());
    if (name == "flags")
    {
        return std::to_string(d.migrationFlags) + "\n";
    }
    if (name == "state")
    {
        auto state = migration::stateFromNumber(d.migrationState);
        return std::string(state ? migration::stateName(*state) : "ERROR") +
               "\n";
    }
    if (name == "data_size")
    {
        return std::to_string(streamLength(d.migrationStateSize)) + "\n";
    }
    if (name == "contents")
    {
        return std::to_string(d.migrationContents) + "\n";
    }
    return std::nullopt;
}

Step writeMigration(Tx& tx, Device& d, std::string_view name,
                    std::string_view value)
{
    if (std::optional<Step> wait = waitIfLocked(d))
    {
        return *wait;
    }
    std::string text(value.substr(0, value.find('\0')));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    {
        text.pop_back();
    }
    if (name == "contents")
    {
        uint64_t contents = 0;
        auto [end, ec] =
            std::from_chars(text.data(), text.data() + text.size(), contents);
        if (ec != std::errc() || end != text.data() + text.size() ||
            text.empty())
        {
            return Step::done(EINVAL);
        }
        d.migrationContents = contents;
        tx.changed = true;
        return Step::done();
    }
    if (name != "state")
    {
        return Step::done(EACCES);
    }
    std::optional<State> to = migration::parseState(text);
    auto from = static_cast<State>(d.migrationState);
    if (!to)
    {
        return Step::done(EINVAL);
    }
    if (*to == from && *to != State::Error)
    {
        return Step::done();
    }
    // A driver's step function takes one arc; vfio_mig_get_next_state is
    // the caller's job.
    if (!migration::isArc(from, *to, d.migrationFlags))
    {
        return Step::done(EINVAL);
    }
    if (int error = streamArc(tx, d, from, *to); error != 0)
    {
        return Step::done(error);
    }
    d.migrationState = static_cast<uint32_t>(*to);
    tx.changed = true;
    return Step::done();
}

std::string streamPath(const std::string& stateDir, const PciAddress& address)
{
    return stateDir + "/" + address.str();
}

void resetMigration(Device& d) noexcept
{
    d.migrationState = static_cast<uint32_t>(State::Running);
}

} // namespace vfiod::sim
