#include "plugin/plugin_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
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

struct Library
{
    void* handle = nullptr;
    ~Library()
    {
        if (handle != nullptr)
        {
            ::dlclose(handle);
        }
    }
};

/** @brief Why the descriptor is unusable, "" when it is fine. */
std::string checkDescriptor(const vfiod_plugin_descriptor* d)
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

} // namespace

LoadedPlugin::LoadedPlugin(void* handle,
                           const vfiod_plugin_descriptor* descriptor,
                           std::shared_ptr<PluginServices> services,
                           std::string path) :
    handle(handle),
    desc(descriptor), services(std::move(services)), file(std::move(path)),
    pluginName(descriptor->name)
{}

LoadedPlugin::~LoadedPlugin()
{
    ::dlclose(handle);
}

std::variant<std::shared_ptr<LoadedPlugin>, std::string>
    loadPlugin(const std::string& path,
               const std::shared_ptr<PluginServicesShared>& shared)
{
    Library library;
    library.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library.handle == nullptr)
    {
        const char* why = ::dlerror();
        return std::string("it cannot be loaded: ") +
               (why != nullptr ? why : "unknown dlopen error");
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
    if (std::string why = checkDescriptor(descriptor); !why.empty())
    {
        return why;
    }
    services->setName(descriptor->name);
    void* handle = std::exchange(library.handle, nullptr);
    return std::make_shared<LoadedPlugin>(handle, descriptor,
                                          std::move(services), path);
}

} // namespace vfiod
