// The descriptor a plugin's vfiod_plugin_entry returns, as vfiod checks it
// before it uses anything of it (plugin/plugin_loader.cpp
// checkPluginDescriptor), built from the fuzz bytes without a dlopen.
//
// The input: abi_major and abi_minor (u32 each), struct_size (u64), the ops
// table's struct_size (u64), match_count (u64), priority (i32), a flags byte
// (bit 0: no name, bit 1: no match table, bit 2: no ops table), then the
// name (up to the end; a NUL in it ends it early, as in C).

#include "fuzz_check.hpp"
#include "plugin/plugin_loader.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace fuzz = vfiod::fuzz;

namespace
{

template <typename T>
T take(const uint8_t*& data, size_t& size)
{
    T value{};
    size_t n = std::min(sizeof value, size);
    std::memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
}

bool validName(const std::string& name)
{
    if (name.empty() || name.size() > 64)
    {
        return false;
    }
    for (char c : name)
    {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok)
        {
            return false;
        }
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    vfiod_plugin_descriptor d{};
    vfiod_plugin_ops ops{};
    d.abi_major = take<uint32_t>(data, size);
    d.abi_minor = take<uint32_t>(data, size);
    d.struct_size = static_cast<size_t>(take<uint64_t>(data, size));
    ops.struct_size = static_cast<size_t>(take<uint64_t>(data, size));
    d.match_count = static_cast<size_t>(take<uint64_t>(data, size));
    d.priority = take<int32_t>(data, size);
    uint8_t flags = take<uint8_t>(data, size);

    // Exactly the name's bytes and its NUL: a read past it is ASan's.
    std::string name(reinterpret_cast<const char*>(data), size);
    name = name.substr(0, name.find('\0'));
    std::vector<char> nameBytes(name.begin(), name.end());
    nameBytes.push_back('\0');
    std::vector<vfiod_plugin_match> matches(1);

    d.name = (flags & 1) != 0 ? nullptr : nameBytes.data();
    d.matches = (flags & 2) != 0 ? nullptr : matches.data();
    d.ops = (flags & 4) != 0 ? nullptr : &ops;

    std::string why = vfiod::checkPluginDescriptor(&d);
    bool usable =
        d.abi_major == VFIOD_PLUGIN_ABI_MAJOR &&
        d.struct_size >= sizeof(vfiod_plugin_descriptor) && d.name != nullptr &&
        validName(name) && (d.match_count == 0 || d.matches != nullptr) &&
        d.ops != nullptr && ops.struct_size >= sizeof(vfiod_plugin_ops);
    fuzz::require(why.empty() == usable,
                  "checkPluginDescriptor accepts exactly the usable "
                  "descriptors");
    fuzz::require(vfiod::checkPluginDescriptor(nullptr) != "",
                  "no descriptor is refused");
    return 0;
}
