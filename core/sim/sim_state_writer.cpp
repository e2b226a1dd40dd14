// The state file's writer; sim_state_parser.cpp reads what it writes,
// key for key (sim_state_format.hpp describes the format).
#include "sim/sim_state_format.hpp"

#include "sim/sim_state_names.hpp"
#include "sim/sim_text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace vfiod::sim
{

namespace
{

/** @brief Builds one record line, skipping values equal to a default. */
class Record
{
  public:
    explicit Record(std::string_view type) : line(type)
    {
        line.reserve(256);
    }

    void text(std::string_view key, const std::string& value)
    {
        beginField(key);
        line += escape(value);
    }
    void textIf(std::string_view key, const std::string& value)
    {
        if (!value.empty())
        {
            text(key, value);
        }
    }
    void list(std::string_view key, const std::vector<std::string>& value)
    {
        if (!value.empty())
        {
            raw(key, joinList(value));
        }
    }
    void hex(std::string_view key, uint64_t value, int width = 0)
    {
        // to_chars rather than printf: formatting thousands of devices on
        // every change is the state store's main cost.
        char buf[24];
        char* end = std::to_chars(buf, buf + sizeof buf, value, 16).ptr;
        int digits = static_cast<int>(end - buf);
        beginField(key);
        line.append(static_cast<size_t>(std::max(0, width - digits)), '0');
        line.append(buf, end);
    }
    void number(std::string_view key, int64_t value, int64_t unless)
    {
        if (value != unless)
        {
            char buf[24];
            char* end = std::to_chars(buf, buf + sizeof buf, value).ptr;
            raw(key, std::string_view(buf, static_cast<size_t>(end - buf)));
        }
    }
    void raw(std::string_view key, std::string_view value)
    {
        beginField(key);
        line += value;
    }
    std::string done()
    {
        return line + '\n';
    }

  private:
    void beginField(std::string_view key)
    {
        line += ' ';
        line += key;
        line += '=';
    }

    std::string line;
};

std::string formatIds(const std::vector<IdMatch>& ids)
{
    std::string out;
    for (const IdMatch& id : ids)
    {
        char buf[80];
        std::snprintf(buf, sizeof buf, "%s%x/%x/%x/%x/%x/%x",
                      out.empty() ? "" : ",", id.vendor, id.device,
                      id.subvendor, id.subdevice, id.classCode, id.classMask);
        out += buf;
    }
    return out;
}

std::string formatDevice(const Device& d)
{
    Record r("device");
    r.raw("addr", d.address.str());
    r.hex("vendor", d.vendor, 4);
    r.hex("device", d.device, 4);
    r.hex("subvendor", d.subvendor, 4);
    r.hex("subdevice", d.subdevice, 4);
    r.hex("class", d.classCode, 6);
    r.hex("revision", d.revision, 2);
    r.number("header", d.headerType, 0);
    r.number("group", d.iommuGroup, -1);
    r.number("numa", d.numaNode, -1);
    r.textIf("driver", d.driver);
    if (d.driverOverride)
    {
        r.text("override", *d.driverOverride);
    }
    r.list("reset_supported", d.resetSupported);
    if (d.resetEnabled != d.resetSupported)
    {
        // Present even when empty: all methods disabled by the user.
        r.raw("reset_enabled", joinList(d.resetEnabled));
    }
    r.number("reset_count", static_cast<int64_t>(d.resetCount), 0);
    r.list("fail_probe", d.failProbe);
    r.list("fail_reset", d.failReset);
    r.number("reset_delay", d.resetDelayMs, 0);
    r.number("unbind_delay", d.unbindDelayMs, 0);
    if (d.sriovCapable())
    {
        r.number("sriov_total", d.sriovTotalVfs, 0);
        r.number("sriov_numvfs", d.sriovNumVfs, 0);
        r.number("sriov_autoprobe", d.sriovAutoprobe ? 1 : 0, 1);
        r.number("sriov_offset", d.sriovOffset, -1);
        r.number("sriov_stride", d.sriovStride, -1);
        r.hex("sriov_vf_device", d.sriovVfDevice, 4);
        r.raw("sriov_vf_group", nameOf(vfGroupNames, d.sriovVfGroup));
        r.raw("sriov_vf_reset", joinList(d.sriovVfResetMethods));
    }
    if (d.physfn)
    {
        r.raw("physfn", d.physfn->str());
        r.number("vf_index", d.vfIndex, -1);
    }
    if (d.migrationFlags != 0)
    {
        r.number("mig_flags", static_cast<int64_t>(d.migrationFlags), 0);
        r.number("mig_size", static_cast<int64_t>(d.migrationStateSize), 0);
        r.number("mig_state", d.migrationState, -1);
        r.raw("mig_contents", std::to_string(d.migrationContents));
    }
    r.number("open", d.openCount, 0);
    if (!d.openers.empty())
    {
        r.raw("openers", joinList(d.openers));
    }
    r.number("vfio_dev", d.vfioDev, -1);
    if (d.pending.kind != PendingKind::None)
    {
        r.raw("pending", std::string(nameOf(pendingKindNames, d.pending.kind)) +
                             "/" + std::to_string(d.pending.id) + "/" +
                             std::to_string(d.pending.readyAtMs));
    }
    return r.done();
}

} // namespace

std::string formatState(const Model& model)
{
    std::string out;
    out.reserve(256 + model.devices.size() * 200);
    out += std::string(stateMagic) + " 1 " + model.instance + " " +
           std::to_string(model.generation) + "\n";
    out += "seqnum " + std::to_string(model.seqnum) + "\n";
    out += "pending_id " + std::to_string(model.nextPendingId) + "\n";
    out += "kernel " + escape(model.kernelRelease) + "\n";
    for (const Module& m : model.modules)
    {
        Record r("module");
        r.text("name", m.name);
        r.raw("loaded", m.loaded ? "1" : "0");
        r.list("drivers", m.drivers);
        r.list("depends", m.depends);
        r.list("aliases", m.aliases);
        out += r.done();
    }
    for (const Driver& d : model.drivers)
    {
        Record r("driver");
        r.text("name", d.name);
        r.text("module", d.module);
        r.raw("override_only", d.overrideOnly ? "1" : "0");
        r.raw("sriov", d.sriov ? "1" : "0");
        r.raw("managed_dma", d.managedDma ? "1" : "0");
        if (!d.ids.empty())
        {
            r.raw("ids", formatIds(d.ids));
        }
        if (!d.dynamicIds.empty())
        {
            r.raw("dynids", formatIds(d.dynamicIds));
        }
        out += r.done();
    }
    out += "registered";
    for (const std::string& name : model.registered)
    {
        out += ' ' + escape(name);
    }
    out += '\n';
    for (const auto& [address, device] : model.devices)
    {
        out += formatDevice(device);
    }
    return out;
}

} // namespace vfiod::sim
