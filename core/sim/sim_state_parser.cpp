// The state file's parser; it reads what sim_state_writer.cpp writes, key
// for key, and refuses anything else as corrupt.
#include "sim/sim_state_format.hpp"

#include "base/error.hpp"
#include "base/text_escape.hpp"
#include "sim/sim_state_names.hpp"
#include "sim/sim_text.hpp"

#include <charconv>

namespace vfiod::sim
{

namespace
{

/** @brief Parses one record, failing with the file and line. */
class LineParser
{
  public:
    LineParser(const std::string& path, size_t lineNumber) :
        path(path), lineNumber(lineNumber)
    {}

    [[noreturn]] void corrupt(const std::string& why) const
    {
        fail(Errc::Failed, "simulated kernel state " + path + ":" +
                               std::to_string(lineNumber) +
                               " is corrupt: " + text::escaped(why, 160));
    }

    template <typename T>
    T integer(std::string_view text, int base = 10) const
    {
        T value{};
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                         value, base);
        if (ec != std::errc() || end != text.data() + text.size())
        {
            corrupt("bad number \"" + std::string(text) + "\"");
        }
        return value;
    }

    PciAddress address(std::string_view text) const
    {
        PciAddress out;
        if (!PciAddress::tryParse(text, out))
        {
            corrupt("bad address \"" + std::string(text) + "\"");
        }
        return out;
    }

    bool flag(std::string_view text) const
    {
        return integer<int>(text) != 0;
    }

    std::vector<IdMatch> ids(std::string_view text) const
    {
        std::vector<IdMatch> out;
        if (text.empty())
        {
            return out;
        }
        for (std::string_view item : split(text, ','))
        {
            std::vector<std::string_view> f = split(item, '/');
            if (f.size() != 6)
            {
                corrupt("bad id \"" + std::string(item) + "\"");
            }
            out.push_back(IdMatch{
                integer<uint32_t>(f[0], 16), integer<uint32_t>(f[1], 16),
                integer<uint32_t>(f[2], 16), integer<uint32_t>(f[3], 16),
                integer<uint32_t>(f[4], 16), integer<uint32_t>(f[5], 16)});
        }
        return out;
    }

    Pending pending(std::string_view text) const
    {
        std::vector<std::string_view> f = split(text, '/');
        if (f.size() != 3)
        {
            corrupt("bad pending operation");
        }
        Pending p;
        for (const auto& [name, kind] : pendingKindNames)
        {
            if (f[0] == name)
            {
                p.kind = kind;
            }
        }
        if (p.kind == PendingKind::None)
        {
            corrupt("unknown pending operation");
        }
        p.id = integer<uint64_t>(f[1]);
        p.readyAtMs = integer<int64_t>(f[2]);
        return p;
    }

    VfGroup vfGroup(std::string_view text) const
    {
        for (const auto& [name, group] : vfGroupNames)
        {
            if (text == name)
            {
                return group;
            }
        }
        corrupt("bad sriov_vf_group");
    }

    /** @brief Calls @p field(key, value) for every token after the type. */
    template <typename F>
    void fields(const std::vector<std::string_view>& tokens, F&& field) const
    {
        for (size_t i = 1; i < tokens.size(); ++i)
        {
            size_t eq = tokens[i].find('=');
            if (eq == std::string_view::npos)
            {
                corrupt("token without '='");
            }
            if (!field(tokens[i].substr(0, eq), tokens[i].substr(eq + 1)))
            {
                corrupt("unknown key \"" +
                        std::string(tokens[i].substr(0, eq)) + "\"");
            }
        }
    }

  private:
    const std::string& path;
    size_t lineNumber;
};

/** @brief How one key of a record is stored into its object. */
template <typename T>
struct FieldSetter
{
    std::string_view key;
    void (*set)(T&, const LineParser&, std::string_view);
};

using P = const LineParser&;
using V = std::string_view;

const FieldSetter<Device> deviceFields[] = {
    {"addr", [](Device& d, P p, V v) { d.address = p.address(v); }},
    {"vendor",
     [](Device& d, P p, V v) { d.vendor = p.integer<uint16_t>(v, 16); }},
    {"device",
     [](Device& d, P p, V v) { d.device = p.integer<uint16_t>(v, 16); }},
    {"subvendor",
     [](Device& d, P p, V v) { d.subvendor = p.integer<uint16_t>(v, 16); }},
    {"subdevice",
     [](Device& d, P p, V v) { d.subdevice = p.integer<uint16_t>(v, 16); }},
    {"class",
     [](Device& d, P p, V v) { d.classCode = p.integer<uint32_t>(v, 16); }},
    {"revision",
     [](Device& d, P p, V v) { d.revision = p.integer<uint8_t>(v, 16); }},
    {"header",
     [](Device& d, P p, V v) { d.headerType = p.integer<uint8_t>(v); }},
    {"group", [](Device& d, P p, V v) { d.iommuGroup = p.integer<int>(v); }},
    {"numa", [](Device& d, P p, V v) { d.numaNode = p.integer<int>(v); }},
    {"driver", [](Device& d, P, V v) { d.driver = unescape(v); }},
    {"override", [](Device& d, P, V v) { d.driverOverride = unescape(v); }},
    {"reset_supported",
     [](Device& d, P, V v) { d.resetSupported = splitList(v); }},
    {"reset_enabled", [](Device& d, P, V v) { d.resetEnabled = splitList(v); }},
    {"reset_count",
     [](Device& d, P p, V v) { d.resetCount = p.integer<uint64_t>(v); }},
    {"fail_probe", [](Device& d, P, V v) { d.failProbe = splitList(v); }},
    {"fail_reset", [](Device& d, P, V v) { d.failReset = splitList(v); }},
    {"reset_delay",
     [](Device& d, P p, V v) { d.resetDelayMs = p.integer<unsigned>(v); }},
    {"unbind_delay",
     [](Device& d, P p, V v) { d.unbindDelayMs = p.integer<unsigned>(v); }},
    {"sriov_total",
     [](Device& d, P p, V v) { d.sriovTotalVfs = p.integer<unsigned>(v); }},
    {"sriov_numvfs",
     [](Device& d, P p, V v) { d.sriovNumVfs = p.integer<unsigned>(v); }},
    {"sriov_autoprobe",
     [](Device& d, P p, V v) { d.sriovAutoprobe = p.flag(v); }},
    {"sriov_offset",
     [](Device& d, P p, V v) { d.sriovOffset = p.integer<unsigned>(v); }},
    {"sriov_stride",
     [](Device& d, P p, V v) { d.sriovStride = p.integer<unsigned>(v); }},
    {"sriov_vf_device",
     [](Device& d, P p, V v) { d.sriovVfDevice = p.integer<uint16_t>(v, 16); }},
    {"sriov_vf_group",
     [](Device& d, P p, V v) { d.sriovVfGroup = p.vfGroup(v); }},
    {"sriov_vf_reset",
     [](Device& d, P, V v) { d.sriovVfResetMethods = splitList(v); }},
    {"physfn", [](Device& d, P p, V v) { d.physfn = p.address(v); }},
    {"vf_index",
     [](Device& d, P p, V v) { d.vfIndex = p.integer<unsigned>(v); }},
    {"mig_flags",
     [](Device& d, P p, V v) { d.migrationFlags = p.integer<uint64_t>(v); }},
    {"mig_size", [](Device& d, P p,
                    V v) { d.migrationStateSize = p.integer<uint64_t>(v); }},
    {"mig_state",
     [](Device& d, P p, V v) { d.migrationState = p.integer<uint32_t>(v); }},
    {"mig_contents",
     [](Device& d, P p, V v) { d.migrationContents = p.integer<uint64_t>(v); }},
    {"open", [](Device& d, P p, V v) { d.openCount = p.integer<unsigned>(v); }},
    {"openers", [](Device& d, P, V v) { d.openers = splitList(v); }},
    {"vfio_dev", [](Device& d, P p, V v) { d.vfioDev = p.integer<int>(v); }},
    {"pending", [](Device& d, P p, V v) { d.pending = p.pending(v); }},
};

const FieldSetter<Module> moduleFields[] = {
    {"name", [](Module& m, P, V v) { m.name = unescape(v); }},
    {"loaded", [](Module& m, P p, V v) { m.loaded = p.flag(v); }},
    {"drivers", [](Module& m, P, V v) { m.drivers = splitList(v); }},
    {"depends", [](Module& m, P, V v) { m.depends = splitList(v); }},
    {"aliases", [](Module& m, P, V v) { m.aliases = splitList(v); }},
};

const FieldSetter<Driver> driverFields[] = {
    {"name", [](Driver& d, P, V v) { d.name = unescape(v); }},
    {"module", [](Driver& d, P, V v) { d.module = unescape(v); }},
    {"override_only", [](Driver& d, P p, V v) { d.overrideOnly = p.flag(v); }},
    {"sriov", [](Driver& d, P p, V v) { d.sriov = p.flag(v); }},
    {"managed_dma", [](Driver& d, P p, V v) { d.managedDma = p.flag(v); }},
    {"ids", [](Driver& d, P p, V v) { d.ids = p.ids(v); }},
    {"dynids", [](Driver& d, P p, V v) { d.dynamicIds = p.ids(v); }},
};

/** @brief Fills a T from the key=value tokens of one record. */
template <typename T, size_t N>
T parseRecord(const LineParser& p, const std::vector<std::string_view>& tokens,
              const FieldSetter<T> (&setters)[N])
{
    T object;
    p.fields(tokens, [&](std::string_view key, std::string_view value) {
        for (const FieldSetter<T>& setter : setters)
        {
            if (setter.key == key)
            {
                setter.set(object, p, value);
                return true;
            }
        }
        return false;
    });
    return object;
}

Device parseDevice(const LineParser& p,
                   const std::vector<std::string_view>& tokens)
{
    Device d = parseRecord(p, tokens, deviceFields);
    // reset_enabled is only written when it differs from what is supported.
    bool enabledGiven = false;
    for (std::string_view token : tokens)
    {
        enabledGiven = enabledGiven || token.starts_with("reset_enabled=");
    }
    if (!enabledGiven)
    {
        d.resetEnabled = d.resetSupported;
    }
    return d;
}

} // namespace

std::optional<StateStamp> parseStateStamp(std::string_view firstLine)
{
    std::vector<std::string_view> f = split(firstLine, ' ');
    if (f.size() != 4 || f[0] != stateMagic || f[1] != "1")
    {
        return std::nullopt;
    }
    StateStamp stamp;
    stamp.instance = std::string(f[2]);
    auto [end, ec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(),
                                     stamp.generation);
    if (ec != std::errc() || end != f[3].data() + f[3].size())
    {
        return std::nullopt;
    }
    return stamp;
}

Model parseState(std::string_view text, const std::string& path)
{
    Model model;
    size_t lineNumber = 0;
    size_t start = 0;
    while (start < text.size())
    {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
        {
            // Renames are atomic, so a state file always ends complete.
            LineParser(path, lineNumber + 1).corrupt("truncated last line");
        }
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++lineNumber;
        LineParser p(path, lineNumber);
        std::vector<std::string_view> tokens = split(line, ' ');
        std::string_view type = tokens[0];
        if (lineNumber == 1)
        {
            std::optional<StateStamp> stamp = parseStateStamp(line);
            if (!stamp)
            {
                p.corrupt("not a vfiod-sim state (version 1)");
            }
            model.instance = stamp->instance;
            model.generation = stamp->generation;
        }
        else if (type == "seqnum" && tokens.size() == 2)
        {
            model.seqnum = p.integer<uint64_t>(tokens[1]);
        }
        else if (type == "pending_id" && tokens.size() == 2)
        {
            model.nextPendingId = p.integer<uint64_t>(tokens[1]);
        }
        else if (type == "kernel" && tokens.size() == 2)
        {
            model.kernelRelease = unescape(tokens[1]);
        }
        else if (type == "module")
        {
            model.modules.push_back(parseRecord(p, tokens, moduleFields));
        }
        else if (type == "driver")
        {
            model.drivers.push_back(parseRecord(p, tokens, driverFields));
        }
        else if (type == "registered")
        {
            for (size_t i = 1; i < tokens.size(); ++i)
            {
                model.registered.push_back(unescape(tokens[i]));
            }
        }
        else if (type == "device")
        {
            Device d = parseDevice(p, tokens);
            PciAddress address = d.address;
            if (!model.devices.emplace(address, std::move(d)).second)
            {
                p.corrupt("duplicate device " + address.str());
            }
        }
        else
        {
            p.corrupt("unknown record \"" + std::string(type) + "\"");
        }
    }
    if (lineNumber == 0)
    {
        LineParser(path, 1).corrupt("empty file");
    }
    return model;
}

} // namespace vfiod::sim
