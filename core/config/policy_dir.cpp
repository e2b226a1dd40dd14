#include "base/error.hpp"
#include "base/toml_reader.hpp"
#include "config/policy.hpp"
#include "config/policy_reader.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>

namespace vfiod
{

namespace
{

/** @brief The names in @p dir that are policy files, in byte order. */
std::vector<std::string> policyFileNames(const std::filesystem::path& dir)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec)
    {
        fail(Errc::InvalidArgument,
             dir.string() + ": cannot read directory: " + ec.message());
    }
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : it)
    {
        std::string name = entry.path().filename().string();
        if (name.starts_with('.') || !name.ends_with(".toml"))
        {
            continue;
        }
        // stat() follows symlinks: a link to /dev/null masks a file of the
        // same name, as in systemd's drop-in directories. Any other entry
        // that is not a regular file (a FIFO, a directory, a link to
        // /dev/zero) is kept, for readFile() to refuse by name: skipping
        // it would silently drop the rules the administrator meant it to
        // hold. A dangling link is a file that is not there, as before.
        struct stat st = {};
        if (::stat(entry.path().c_str(), &st) != 0)
        {
            continue;
        }
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
        {
            continue;
        }
        names.push_back(name);
    }
    // std::string compares as unsigned char: plain byte order, no locale.
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

Policy loadPolicyDir(const std::string& dir)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::file_status status = fs::status(dir, ec);
    Policy policy;
    if (status.type() == fs::file_type::not_found)
    {
        return policy;
    }
    if (ec)
    {
        fail(Errc::InvalidArgument, dir + ": " + ec.message());
    }
    if (!fs::is_directory(status))
    {
        fail(Errc::InvalidArgument, dir + ": not a directory");
    }
    policy_reader::RuleNames names;
    for (const std::string& name : policyFileNames(dir))
    {
        std::string path = (fs::path(dir) / name).string();
        policy_reader::appendFile(
            policy, toml_reader::readFile(path, "policy file"), path, names);
    }
    return policy;
}

} // namespace vfiod
