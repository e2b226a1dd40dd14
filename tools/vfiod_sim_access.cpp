#include "vfiod_sim_access.hpp"

#include "vfiod_sim_error.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

namespace vfiod_sim
{

std::string errnoText(int code)
{
    const char* name = ::strerrorname_np(code);
    return std::string(name != nullptr ? name : "E?") + " (" +
           std::strerror(code) + ")";
}

std::string sysPath(std::string path)
{
    if (path.starts_with("/sys/"))
    {
        path.erase(0, 5);
    }
    return path;
}

std::string readAttr(vfiod::SimHost& host, const std::string& path)
{
    try
    {
        std::optional<std::string> text = host.read(path);
        if (!text)
        {
            throw ToolError{"read " + path + ": " + errnoText(ENOENT)};
        }
        return *text;
    }
    catch (const std::system_error& e)
    {
        throw ToolError{"read " + path + ": " + errnoText(e.code().value())};
    }
}

void writeAttr(vfiod::SimHost& host, const std::string& path,
               const std::string& value)
{
    try
    {
        host.write(path, value);
    }
    catch (const std::system_error& e)
    {
        throw ToolError{"write " + path + ": " + errnoText(e.code().value())};
    }
}

} // namespace vfiod_sim
