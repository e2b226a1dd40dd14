#include "pci/modules_alias.hpp"

#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"

#include <fnmatch.h>

#include <limits>

namespace vfiod
{

namespace
{

int wildcardCount(std::string_view pattern)
{
    int n = 0;
    for (char c : pattern)
    {
        n += (c == '*' || c == '?');
    }
    return n;
}

/**
 * @brief The module of the "alias <kind><pattern> <module>" line whose
 * pattern matches @p wanted with the fewest wildcards.
 */
std::optional<std::string> bestAlias(std::string_view modulesAlias,
                                     std::string_view kind,
                                     const std::string& wanted)
{
    std::string aliasWord = "alias " + std::string(kind);
    std::optional<std::string> best;
    int bestWildcards = std::numeric_limits<int>::max();
    size_t pos = 0;
    while (pos < modulesAlias.size())
    {
        size_t end = modulesAlias.find('\n', pos);
        if (end == std::string_view::npos)
        {
            end = modulesAlias.size();
        }
        std::string_view line = modulesAlias.substr(pos, end - pos);
        pos = end + 1;

        if (line.substr(0, aliasWord.size()) != aliasWord)
        {
            continue;
        }
        std::string_view rest = line.substr(6);
        size_t space = rest.find(' ');
        if (space == std::string_view::npos)
        {
            continue;
        }
        std::string pattern(rest.substr(0, space));
        std::string module = sysfs::trim(rest.substr(space + 1));
        if (module.empty() || fnmatch(pattern.c_str(), wanted.c_str(), 0) != 0)
        {
            continue;
        }
        int wildcards = wildcardCount(pattern);
        if (wildcards < bestWildcards)
        {
            bestWildcards = wildcards;
            best = module;
        }
    }
    return best;
}

constexpr std::string_view pciPrefix = "pci:";

} // namespace

std::optional<std::string> bestVfioModule(std::string_view modulesAlias,
                                          std::string_view modalias)
{
    if (modalias.substr(0, pciPrefix.size()) != pciPrefix)
    {
        return std::nullopt;
    }
    return bestAlias(modulesAlias, "vfio_pci:",
                     "vfio_pci:" +
                         std::string(modalias.substr(pciPrefix.size())));
}

std::optional<std::string> bestHostModule(std::string_view modulesAlias,
                                          std::string_view modalias)
{
    if (modalias.substr(0, pciPrefix.size()) != pciPrefix)
    {
        return std::nullopt;
    }
    return bestAlias(modulesAlias, pciPrefix, std::string(modalias));
}

std::string pciDriverOfModule(KernelHost& host, const std::string& module)
{
    if (sysfs::isValidDriverName(module))
    {
        for (const auto& entry : host.list(sysfs::moduleDrivers(module)))
        {
            constexpr std::string_view prefix = "pci:";
            if (entry.rfind(prefix, 0) == 0)
            {
                return entry.substr(prefix.size());
            }
        }
    }
    // The one module whose driver name differs from its module name.
    if (module == "vfio_pci" || module == "vfio-pci")
    {
        return "vfio-pci";
    }
    return module;
}

} // namespace vfiod
