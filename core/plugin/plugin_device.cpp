// PluginDevice: each op of the C ABI as a C++ call with a timeout.
#include "base/error.hpp"
#include "plugin/plugin_call.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin/plugin_loader.hpp"

#include <array>
#include <cerrno>
#include <cstring>

namespace vfiod
{

/**
 * @brief The vfiod_device handed to ops, with the strings it points into.
 * Shared with op threads, which may outlive the PluginDevice.
 */
struct PluginDevice::View
{
    PciDevice device;
    std::string address;
    std::string driver;
    vfiod_device c{};

    explicit View(const PciDevice& d) :
        device(d), address(d.address.str()), driver(d.driver)
    {
        c.struct_size = sizeof c;
        c.address = address.c_str();
        c.vendor = d.vendorId;
        c.device = d.deviceId;
        c.subsystem_vendor = d.subsystemVendorId;
        c.subsystem_device = d.subsystemDeviceId;
        c.class_code = d.classCode;
        c.driver = driver.c_str();
    }
};

PluginDevice::PluginDevice(std::shared_ptr<LoadedPlugin> plugin,
                           const PciDevice& device,
                           std::shared_ptr<StuckDevices> stuck,
                           std::chrono::milliseconds timeout,
                           std::shared_ptr<PluginCallMarkers> markers) :
    plugin(std::move(plugin)),
    view(std::make_shared<View>(device)), stuck(std::move(stuck)),
    timeout(timeout), markers(std::move(markers))
{}

PluginDevice::~PluginDevice() = default;
PluginDevice::PluginDevice(PluginDevice&&) noexcept = default;
PluginDevice& PluginDevice::operator=(PluginDevice&&) noexcept = default;

const std::string& PluginDevice::pluginName() const noexcept
{
    return plugin->name();
}

const PciDevice& PluginDevice::device() const noexcept
{
    return view->device;
}

/**
 * @brief Runs @p op (called as op(host, device, err, errSize)) with the
 * timeout; a negative return becomes an Error naming plugin, op, device.
 */
template <typename Op>
int PluginDevice::call(const char* opName, Op op, bool allowPositive)
{
    std::string what =
        "plugin " + plugin->name() + ": " + opName + " on " + view->address;
    // The closure owns what the op touches: the op may outlive this call.
    auto lib = plugin;
    auto v = view;
    auto marks = markers;
    PluginCallRecord record{lib->fileName(), lib->name(), opName,
                            view->address};
    OpResult result = runPluginOp(
        [lib, v, op, marks, record](char* err, size_t size) {
            // On the op's own thread, for exactly as long as the plugin's
            // code runs: an op abandoned on its timeout keeps its marker
            // until it returns.
            PluginCallMarkers::Mark mark;
            if (marks)
            {
                mark = marks->mark(record);
            }
            return op(lib->host(), &v->c, err, size);
        },
        stuck, view->device.address, timeout, what);
    if (result.ret < 0 || (result.ret > 0 && !allowPositive))
    {
        if (result.ret > 0)
        {
            result.ret = -EPROTO; // not a value this op may return
        }
        failPluginOp(result, what);
    }
    return result.ret;
}

#define VFIOD_REQUIRE_OP(member)                                               \
    if (!VFIOD_HAS_OP(*plugin, member))                                        \
    {                                                                          \
        fail(Errc::NotSupported,                                               \
             "plugin " + plugin->name() + " does not implement " #member);     \
    }

bool PluginDevice::probe()
{
    if (!VFIOD_HAS_OP(*plugin, probe))
    {
        return true;
    }
    auto fn = plugin->ops().probe;
    return call("probe", fn, true) == VFIOD_PROBE_CLAIM;
}

std::string PluginDevice::chooseDriver()
{
    if (!VFIOD_HAS_OP(*plugin, choose_driver))
    {
        return {};
    }
    auto fn = plugin->ops().choose_driver;
    auto out = std::make_shared<std::array<char, 128>>();
    call("choose_driver", [fn, out](auto host, auto dev, char* err, size_t n) {
        return fn(host, dev, out->data(), out->size(), err, n);
    });
    out->back() = '\0';
    return out->data();
}

void PluginDevice::prepareBind(const std::string& driver)
{
    if (VFIOD_HAS_OP(*plugin, prepare_bind))
    {
        auto fn = plugin->ops().prepare_bind;
        call("prepare_bind",
             [fn, driver](auto host, auto dev, char* e, size_t n) {
                 return fn(host, dev, driver.c_str(), e, n);
             });
    }
}

void PluginDevice::cleanupBind(const std::string& driver, int result)
{
    if (VFIOD_HAS_OP(*plugin, cleanup_bind))
    {
        auto fn = plugin->ops().cleanup_bind;
        call("cleanup_bind",
             [fn, driver, result](auto host, auto dev, char* e, size_t n) {
                 return fn(host, dev, driver.c_str(), result, e, n);
             });
    }
}

void PluginDevice::prepareAssign()
{
    if (VFIOD_HAS_OP(*plugin, prepare_assign))
    {
        call("prepare_assign", plugin->ops().prepare_assign);
    }
}

void PluginDevice::cleanupAssign(int result)
{
    if (VFIOD_HAS_OP(*plugin, cleanup_assign))
    {
        auto fn = plugin->ops().cleanup_assign;
        call("cleanup_assign",
             [fn, result](auto host, auto dev, char* e, size_t n) {
                 return fn(host, dev, result, e, n);
             });
    }
}

bool PluginDevice::canReset() const noexcept
{
    return VFIOD_HAS_OP(*plugin, reset);
}

void PluginDevice::reset(const std::string& method)
{
    VFIOD_REQUIRE_OP(reset);
    auto fn = plugin->ops().reset;
    call("reset", [fn, method](auto host, auto dev, char* e, size_t n) {
        return fn(host, dev, method.c_str(), e, n);
    });
}

bool PluginDevice::canMigrate() const noexcept
{
    return VFIOD_HAS_OP(*plugin, migration_get_flags) &&
           VFIOD_HAS_OP(*plugin, migration_set_state);
}

bool PluginDevice::canGetState() const noexcept
{
    return VFIOD_HAS_OP(*plugin, migration_get_state);
}

migration::Flags PluginDevice::migrationFlags()
{
    VFIOD_REQUIRE_OP(migration_get_flags);
    auto fn = plugin->ops().migration_get_flags;
    auto out = std::make_shared<uint64_t>(0);
    call("migration_get_flags",
         [fn, out](auto host, auto dev, char* e, size_t n) {
             return fn(host, dev, out.get(), e, n);
         });
    return *out;
}

migration::State PluginDevice::migrationState()
{
    VFIOD_REQUIRE_OP(migration_get_state);
    auto fn = plugin->ops().migration_get_state;
    auto out = std::make_shared<uint32_t>(0);
    call("migration_get_state",
         [fn, out](auto host, auto dev, char* e, size_t n) {
             return fn(host, dev, out.get(), e, n);
         });
    std::optional<migration::State> state = migration::stateFromNumber(*out);
    if (!state)
    {
        fail(Errc::Failed, "plugin " + plugin->name() +
                               " reports unknown state " +
                               std::to_string(*out) + " for " + view->address);
    }
    return *state;
}

UniqueFd PluginDevice::setMigrationArc(migration::State next)
{
    VFIOD_REQUIRE_OP(migration_set_state);
    auto fn = plugin->ops().migration_set_state;
    // The fd lands in shared state: if the op is abandoned and returns
    // later, the descriptor it hands out is closed with it.
    auto out = std::make_shared<UniqueFd>();
    auto state = static_cast<uint32_t>(next);
    std::string what = std::string("migration_set_state(") +
                       std::string(migration::stateName(next)) + ")";
    call(what.c_str(),
         [fn, out, state](auto host, auto dev, char* e, size_t n) {
             int fd = -1;
             int ret = fn(host, dev, state, &fd, e, n);
             out->reset(fd);
             return ret;
         });
    return std::move(*out);
}

uint64_t PluginDevice::migrationDataSize()
{
    VFIOD_REQUIRE_OP(migration_get_data_size);
    auto fn = plugin->ops().migration_get_data_size;
    auto out = std::make_shared<uint64_t>(0);
    call("migration_get_data_size",
         [fn, out](auto host, auto dev, char* e, size_t n) {
             return fn(host, dev, out.get(), e, n);
         });
    return *out;
}

PrecopyInfo PluginDevice::precopyInfo(int dataFd)
{
    VFIOD_REQUIRE_OP(migration_get_precopy_info);
    auto fn = plugin->ops().migration_get_precopy_info;
    auto out = std::make_shared<PrecopyInfo>();
    call("migration_get_precopy_info",
         [fn, out, dataFd](auto host, auto dev, char* e, size_t n) {
             return fn(host, dev, dataFd, &out->initialBytes, &out->dirtyBytes,
                       e, n);
         });
    return *out;
}

void PluginDevice::release()
{
    plugin->shared().releaseDevice(view->device.address);
}

} // namespace vfiod
