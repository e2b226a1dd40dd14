// The C functions behind vfiod_host_services. Each is a boundary between
// foreign code and vfiod: validate what comes in, never let an exception
// out, and answer with a negative errno like a system call.
#include "plugin/plugin_services.hpp"

#include "base/errno_map.hpp"
#include "base/error.hpp"
#include "base/process.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

namespace vfiod
{

namespace
{

PluginServices& self(void* context)
{
    return *static_cast<PluginServices*>(context);
}

/** @brief Runs @p body, turning every exception into -errno. */
template <typename F>
int guarded(F&& body) noexcept
{
    try
    {
        return body();
    }
    catch (const std::system_error& e)
    {
        return e.code().value() > 0 ? -e.code().value() : -EIO;
    }
    catch (const Error& e)
    {
        return -errnoOfErrc(e.code(), ErrnoTo::Service);
    }
    catch (const std::bad_alloc&)
    {
        return -ENOMEM;
    }
    catch (...)
    {
        return -EIO;
    }
}

int copyOut(const std::string& text, char* buf, size_t size)
{
    if (buf == nullptr || size == 0)
    {
        return -EINVAL;
    }
    size_t n = std::min(text.size(), size - 1);
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
    return static_cast<int>(n);
}

bool checkPath(const char* path)
{
    return path != nullptr && isSafeRelativePath(path);
}

void serviceLog(void* context, int level, const char* format, ...)
{
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    PluginServices& s = self(context);
    if (s.shared().log)
    {
        s.shared().log(level, "plugin " + s.name() + ": " + line);
    }
}

int serviceRead(void* context, const char* path, char* buf, size_t size)
{
    if (!checkPath(path))
    {
        return -EINVAL;
    }
    return guarded([&] {
        std::optional<std::string> text =
            self(context).shared().kernel.read(path);
        return text ? copyOut(*text, buf, size) : -ENOENT;
    });
}

int serviceWrite(void* context, const char* path, const char* value)
{
    if (!checkPath(path) || value == nullptr)
    {
        return -EINVAL;
    }
    return guarded([&] {
        self(context).shared().kernel.write(path, value);
        return 0;
    });
}

int serviceReadlink(void* context, const char* path, char* buf, size_t size)
{
    if (!checkPath(path))
    {
        return -EINVAL;
    }
    return guarded([&] {
        std::optional<std::string> name =
            self(context).shared().kernel.readLinkName(path);
        return name ? copyOut(*name, buf, size) : -ENOENT;
    });
}

int serviceOpen(void* context, const char* path, int flags, int* fd)
{
    if (!checkPath(path) || fd == nullptr)
    {
        return -EINVAL;
    }
    return guarded([&] {
        *fd =
            self(context).shared().kernel.openAttribute(path, flags).release();
        return 0;
    });
}

int serviceOpenDevice(void* context, const char* address, int* fd)
{
    PciAddress parsed;
    if (address == nullptr || fd == nullptr ||
        !PciAddress::tryParse(address, parsed))
    {
        return -EINVAL;
    }
    return guarded([&] {
        PluginServicesShared& shared = self(context).shared();
        std::lock_guard lock(shared.mutex);
        auto found = shared.openDevices.find(parsed);
        if (found == shared.openDevices.end())
        {
            found = shared.openDevices
                        .emplace(parsed, shared.kernel.openVfioDevice(parsed))
                        .first;
        }
        *fd = found->second.device.get();
        return 0;
    });
}

int serviceRunHelper(void* context, const char* helper, const char* const* argv,
                     char* output, size_t outputSize)
{
    if (helper == nullptr || argv == nullptr)
    {
        return -EINVAL;
    }
    return guarded([&] {
        PluginServicesShared& shared = self(context).shared();
        auto path = shared.helpers.find(helper);
        if (path == shared.helpers.end() || path->second.empty())
        {
            return -ENOENT;
        }
        std::vector<std::string> args{path->second};
        for (const char* const* arg = argv; *arg != nullptr; ++arg)
        {
            args.emplace_back(*arg);
        }
        ProcessResult result = runProcessWithOutput(args);
        if (output != nullptr && outputSize > 0)
        {
            copyOut(result.standardError, output, outputSize);
        }
        // Killed by a signal: not an exit status the plugin could mistake
        // for the helper's own answer.
        return result.exitStatus >= 0 ? result.exitStatus : -ECHILD;
    });
}

} // namespace

void PluginServicesShared::releaseDevice(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    openDevices.erase(address);
}

PluginServices::PluginServices(std::shared_ptr<PluginServicesShared> shared,
                               std::string name) :
    common(std::move(shared)),
    pluginName(std::move(name))
{
    services.struct_size = sizeof services;
    services.abi_major = VFIOD_PLUGIN_ABI_MAJOR;
    services.abi_minor = VFIOD_PLUGIN_ABI_MINOR;
    services.context = this;
    services.log = serviceLog;
    services.sysfs_read = serviceRead;
    services.sysfs_write = serviceWrite;
    services.sysfs_readlink = serviceReadlink;
    services.sysfs_open = serviceOpen;
    services.open_device = serviceOpenDevice;
    services.run_helper = serviceRunHelper;
}

void PluginServices::setName(std::string name)
{
    pluginName = std::move(name);
}

bool isSafeRelativePath(std::string_view path) noexcept
{
    if (path.empty() || path.size() >= 4096 || path.front() == '/')
    {
        return false;
    }
    for (char c : path)
    {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        {
            return false;
        }
    }
    size_t start = 0;
    while (start <= path.size())
    {
        size_t slash = path.find('/', start);
        size_t end = slash == std::string_view::npos ? path.size() : slash;
        std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
        {
            return false;
        }
        start = end + 1;
    }
    return true;
}

} // namespace vfiod
