// The example of vfiod-plugin(7), taken from the page itself, builds with
// the documented command against include/ and loads in the plugin host.
#include "plugin/plugin_host.hpp"
#include "plugin_test_util.hpp"
#include "sim/sim_host.hpp"
#include "sim_test_util.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vfiod
{
namespace
{

using plugintest::LogCapture;
using plugintest::requiredEnv;

/** @brief The roff between the example markers, as man renders it. */
std::string exampleFromManPage(const std::string& page)
{
    std::ifstream in(page);
    std::string line;
    std::string code;
    bool inside = false;
    while (std::getline(in, line))
    {
        if (line == ".\\\" example-begin")
        {
            inside = true;
            continue;
        }
        if (line == ".\\\" example-end")
        {
            break;
        }
        if (!inside || line == ".EX" || line == ".EE")
        {
            continue;
        }
        std::string plain;
        for (size_t i = 0; i < line.size(); ++i)
        {
            if (line[i] == '\\' && i + 1 < line.size())
            {
                char next = line[++i];
                plain += next == 'e' ? '\\' : next; // \e and \- only
                continue;
            }
            plain += line[i];
        }
        code += plain + "\n";
    }
    return code;
}

TEST(ManExample, BuildsAgainstTheSdkAndLoads)
{
    std::string source = requiredEnv("VFIOD_SOURCE_ROOT");
    std::string code = exampleFromManPage(source + "/man/vfiod-plugin.7");
    ASSERT_NE(code.find("vfiod_plugin_entry"), std::string::npos);

    simtest::TempDir dir;
    std::string file = dir.write("example.c", code);
    std::string plugins = dir.path() + "/plugins";
    std::filesystem::create_directory(plugins);
    // vfiod loads nothing from a directory or file its group may write:
    // the modes must not depend on the umask the test runs under.
    std::filesystem::permissions(plugins, std::filesystem::perms(0755));
    // The page's command, with the generated vfiod-plugin.pc pointed at
    // the source tree's include/ instead of the installed header.
    std::string pkgConfig =
        "PKG_CONFIG_PATH=" + requiredEnv("VFIOD_TEST_PC_DIR") +
        " pkg-config --define-variable=includedir=" + source +
        "/include --cflags vfiod-plugin";
    std::string command = requiredEnv("VFIOD_TEST_CC") +
                          " -std=c11 -Wall -Wextra -Werror -shared -fPIC "
                          "$(" +
                          pkgConfig + ") -o " + plugins + "/example.so " + file;
    ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << code;
    std::filesystem::permissions(plugins + "/example.so",
                                 std::filesystem::perms(0644));

    SimHost sim(source + "/conf/sim-host.toml", dir.path() + "/state");
    LogCapture log;
    PluginHostConfig config;
    config.directory = plugins;
    config.log = log.sink();
    PluginHost host(sim, config);
    ASSERT_EQ(host.plugins().size(), 1U);
    EXPECT_EQ(host.plugins()[0].name, "example");
    EXPECT_EQ(log.matching("example plugin loaded").size(), 1U);
}

} // namespace
} // namespace vfiod
