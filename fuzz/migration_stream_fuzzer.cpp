// Migration streams: the check a simulated VFIO migration driver makes of
// a stream written to a device in RESUMING (sim/sim_migration.cpp, what
// LoadMigrationState hands the kernel), and the copy that carries a stream
// between a client's fd and the device's data fd
// (migration/migration_stream.cpp), which must move every byte unchanged.

#include "fuzz_check.hpp"
#include "migration/migration_stream.hpp"
#include "sim/sim_migration.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <variant>

namespace fuzz = vfiod::fuzz;
namespace migration = vfiod::migration;
namespace sim = vfiod::sim;

namespace
{

/** @brief A device with migration, small state: the corpus carries its
 * streams (fuzz/corpus/migration_stream). */
sim::Device device()
{
    sim::Device d;
    d.vendor = 0x15b3;
    d.device = 0x101e;
    d.migrationFlags = 1; // VFIO_MIGRATION_STOP_COPY
    d.migrationStateSize = 64;
    return d;
}

void verify(std::string_view stream)
{
    static const sim::Device d = device();
    std::variant<uint64_t, int> result = sim::verifyStream(d, stream);
    if (const int* error = std::get_if<int>(&result))
    {
        fuzz::require(*error == EINVAL || *error == EFAULT,
                      "a refused stream is EINVAL or EFAULT");
        return;
    }
    // An accepted stream is exactly what the device would produce with
    // those contents.
    sim::Device loaded = d;
    loaded.migrationContents = std::get<uint64_t>(result);
    fuzz::require(sim::generateStream(loaded) == stream,
                  "an accepted stream is the one its contents generate");
}

void copy(std::string_view stream, size_t chunk)
{
    int in = ::memfd_create("fuzz-in", MFD_CLOEXEC);
    int out = ::memfd_create("fuzz-out", MFD_CLOEXEC);
    fuzz::require(in >= 0 && out >= 0, "memfd_create");
    fuzz::require(::write(in, stream.data(), stream.size()) ==
                          static_cast<ssize_t>(stream.size()) &&
                      ::lseek(in, 0, SEEK_SET) == 0,
                  "write the input");
    uint64_t chunks = 0;
    migration::CopyResult result = migration::copyStream(
        in, out, chunk, nullptr, [&](uint64_t n) { chunks += n; });
    fuzz::require(result.end == migration::CopyEnd::EndOfStream &&
                      result.bytes == stream.size() && chunks == result.bytes,
                  "copyStream moves every byte and reports each chunk");
    std::string copied(stream.size(), '\0');
    fuzz::require(::pread(out, copied.data(), copied.size(), 0) ==
                          static_cast<ssize_t>(copied.size()) &&
                      copied == stream,
                  "copyStream moves the bytes unchanged");
    ::close(in);
    ::close(out);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view stream = fuzz::text(data, size);
    verify(stream);
    // Chunks of 1 to 64 bytes, so that a stream ends mid-chunk and on one.
    copy(stream, size > 0 ? 1 + data[0] % 64 : 1);
    return 0;
}
