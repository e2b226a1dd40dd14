#include "plugin/plugin_loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace vfiod
{

namespace
{

/** @brief 1-64 of A-Z a-z 0-9 _ . - (it appears in logs and on the bus). */
bool validName(const char* name)
{
    if (name == nullptr)
    {
        return false;
    }
    std::string_view text(name, strnlen(name, 65));
    return !text.empty() && text.size() <= 64 &&
           std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                      c == '-';
           });
}

/** @brief The name a checked file is dlopened by. */
std::string procPath(int fd)
{
    return "/proc/self/fd/" + std::to_string(fd);
}

/**
 * @brief dlcloses @p handle, then closes @p fd, the file it was opened
 * through, unless the library stays mapped (RTLD_NODELETE, or C++ unique
 * symbols, which glibc never unloads): dlopen looks a name up among the
 * loaded libraries before it opens anything, so while a library is known
 * as "/proc/self/fd/N" no other file may get the number N. Such an fd is
 * kept open for good, as the library is.
 */
void unload(void* handle, UniqueFd& fd)
{
    ::dlclose(handle);
    std::string name = procPath(fd.get());
    if (void* still = ::dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD))
    {
        ::dlclose(still);
        static_cast<void>(fd.release());
    }
}

struct Library
{
    UniqueFd fd;
    void* handle = nullptr;
    ~Library()
    {
        if (handle != nullptr)
        {
            unload(handle, fd);
        }
    }
};

/** @brief What a file that is not a regular one is, for a refusal. */
std::string typeName(mode_t mode)
{
    switch (mode & S_IFMT)
    {
        case S_IFDIR:
            return "directory";
        case S_IFIFO:
            return "FIFO";
        case S_IFLNK:
            return "symbolic link";
        case S_IFSOCK:
            return "socket";
        case S_IFCHR:
            return "character device";
        case S_IFBLK:
            return "block device";
        default:
            return "file of type " + std::to_string(mode & S_IFMT);
    }
}

/** @brief "0644". */
std::string modeText(mode_t mode)
{
    char text[8];
    std::snprintf(text, sizeof text, "%04o",
                  static_cast<unsigned>(mode & 07777));
    return text;
}

/**
 * @brief Why whoever owns or may write @p st is not trusted with code
 * that runs in vfiod, "" when only root or vfiod's own euid is. A write
 * ACL shows in the group bits (they are then the ACL's mask), so it is
 * refused too.
 */
std::string trustProblem(const struct stat& st)
{
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
    {
        return "owned by uid " + std::to_string(st.st_uid) +
               " (neither root nor vfiod's own uid " +
               std::to_string(::geteuid()) + ")";
    }
    if ((st.st_mode & S_IWOTH) != 0)
    {
        return "writable by others (mode " + modeText(st.st_mode) + ")";
    }
    if ((st.st_mode & S_IWGRP) != 0)
    {
        return "writable by group (mode " + modeText(st.st_mode) + ")";
    }
    return {};
}

} // namespace

std::string checkPluginDescriptor(const vfiod_plugin_descriptor* d)
{
    if (d == nullptr)
    {
        return "its entry point returned no descriptor";
    }
    // abi_major and struct_size lead the structure in every 1.x version,
    // so they can be read before the size is known to be sufficient.
    if (d->abi_major != VFIOD_PLUGIN_ABI_MAJOR)
    {
        return "it is built for plugin ABI " + std::to_string(d->abi_major) +
               "." + std::to_string(d->abi_minor) + ", vfiod speaks " +
               std::to_string(VFIOD_PLUGIN_ABI_MAJOR) + ".x";
    }
    if (d->struct_size < sizeof(vfiod_plugin_descriptor))
    {
        return "its descriptor is " + std::to_string(d->struct_size) +
               " bytes, smaller than ABI 1.0's " +
               std::to_string(sizeof(vfiod_plugin_descriptor));
    }
    if (!validName(d->name))
    {
        return "its name is missing or not 1-64 of A-Z a-z 0-9 _ . -";
    }
    if (d->match_count > 0 && d->matches == nullptr)
    {
        return "its match table is missing";
    }
    if (d->ops == nullptr)
    {
        return "it has no ops table";
    }
    if (d->ops->struct_size < sizeof(vfiod_plugin_ops))
    {
        return "its ops table is " + std::to_string(d->ops->struct_size) +
               " bytes, smaller than ABI 1.0's " +
               std::to_string(sizeof(vfiod_plugin_ops));
    }
    return {};
}

LoadedPlugin::LoadedPlugin(void* handle,
                           const vfiod_plugin_descriptor* descriptor,
                           std::shared_ptr<PluginServices> services,
                           std::string path, UniqueFd file) :
    handle(handle),
    desc(descriptor), services(std::move(services)), file(std::move(path)),
    pluginName(descriptor->name), opened(std::move(file))
{}

LoadedPlugin::~LoadedPlugin()
{
    unload(handle, opened);
}

std::string checkPluginDirectory(int dirFd, const std::string& path)
{
    struct stat st
    {};
    if (::fstat(dirFd, &st) != 0)
    {
        int error = errno;
        return "directory " + path +
               " cannot be examined: " + std::strerror(error);
    }
    if (!S_ISDIR(st.st_mode))
    {
        return path + " is not a directory";
    }
    if (std::string why = trustProblem(st); !why.empty())
    {
        return "directory " + path + " is " + why;
    }
    return {};
}

std::variant<UniqueFd, std::string> openPluginFile(int dirFd,
                                                   const std::string& name)
{
    UniqueFd file(::openat(dirFd, name.c_str(),
                           O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    struct stat st
    {};
    if (!file)
    {
        int error = errno;
        // O_NOFOLLOW fails on a link (ELOOP) and a socket cannot be
        // opened at all (ENXIO): say what the entry is rather than how
        // the open failed.
        if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISREG(st.st_mode))
        {
            std::string why = "not a regular file (" + typeName(st.st_mode);
            char target[4096];
            ssize_t n =
                S_ISLNK(st.st_mode)
                    ? ::readlinkat(dirFd, name.c_str(), target, sizeof target)
                    : -1;
            if (n > 0)
            {
                why += " to " + std::string(target, static_cast<size_t>(n));
            }
            return why + ")";
        }
        return std::string("it cannot be opened: ") + std::strerror(error);
    }
    if (::fstat(file.get(), &st) != 0)
    {
        int error = errno;
        return std::string("it cannot be examined: ") + std::strerror(error);
    }
    if (!S_ISREG(st.st_mode))
    {
        return "not a regular file (" + typeName(st.st_mode) + ")";
    }
    if (std::string why = trustProblem(st); !why.empty())
    {
        return why;
    }
    return file;
}

std::variant<std::shared_ptr<LoadedPlugin>, std::string>
    loadPlugin(UniqueFd file, const std::string& path,
               const std::shared_ptr<PluginServicesShared>& shared)
{
    std::string name = procPath(file.get());
    Library library;
    library.fd = std::move(file);
    library.handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library.handle == nullptr)
    {
        const char* error = ::dlerror();
        std::string why = error != nullptr ? error : "unknown dlopen error";
        // The loader names the file by the number it was opened through.
        if (why.starts_with(name))
        {
            why.replace(0, name.size(), path);
        }
        return "it cannot be loaded: " + why;
    }
    void* symbol = ::dlsym(library.handle, VFIOD_PLUGIN_ENTRY_SYMBOL);
    if (symbol == nullptr)
    {
        return std::string("it has no " VFIOD_PLUGIN_ENTRY_SYMBOL " symbol");
    }
    auto entry = reinterpret_cast<vfiod_plugin_entry_fn>(symbol);
    auto services = std::make_shared<PluginServices>(
        shared, path.substr(path.rfind('/') + 1));
    const vfiod_plugin_descriptor* descriptor = entry(services->table());
    if (std::string why = checkPluginDescriptor(descriptor); !why.empty())
    {
        return why;
    }
    services->setName(descriptor->name);
    void* handle = std::exchange(library.handle, nullptr);
    return std::make_shared<LoadedPlugin>(
        handle, descriptor, std::move(services), path, std::move(library.fd));
}

} // namespace vfiod
