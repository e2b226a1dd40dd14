// The fuzz targets' driver in the ordinary test build: runs
// LLVMFuzzerTestOneInput once over every file given, or every regular file
// below every directory given, so that the seed corpus and every crash
// ever found (fuzz/regressions/) are replayed under ASan and UBSan by
// `meson test --suite fuzz` without clang or libFuzzer.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace
{

namespace fs = std::filesystem;

void runOne(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
        std::exit(2);
    }
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in),
                               std::istreambuf_iterator<char>()};
    // Announced first, so the input of a crash is the last line printed.
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(),
                 bytes.size());
    // A copy of exactly the input's size, as libFuzzer passes it, so that
    // ASan sees a read one byte past the end.
    // An empty input still gets a valid pointer, as from libFuzzer.
    std::vector<uint8_t> exact(bytes);
    uint8_t none = 0;
    LLVMFuzzerTestOneInput(exact.empty() ? &none : exact.data(), exact.size());
}

} // namespace

int main(int argc, char** argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; ++i)
    {
        fs::path arg(argv[i]);
        if (fs::is_directory(arg))
        {
            std::vector<fs::path> files;
            for (const auto& entry : fs::recursive_directory_iterator(arg))
            {
                if (entry.is_regular_file())
                {
                    files.push_back(entry.path());
                }
            }
            std::sort(files.begin(), files.end());
            for (const fs::path& file : files)
            {
                runOne(file);
                ++count;
            }
        }
        else if (fs::exists(arg))
        {
            runOne(arg);
            ++count;
        }
        // A missing argument is a regressions directory nobody has needed
        // yet: nothing to replay there.
    }
    std::printf("replay: %zu inputs, no crash\n", count);
    return count > 0 ? 0 : 1;
}
