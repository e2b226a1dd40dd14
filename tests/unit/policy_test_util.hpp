#pragma once

// The policy tests' fixture: a policy.d of its own, and the devices the
// rules are matched against.

#include "base/error.hpp"
#include "config/policy.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vfiod
{

namespace fs = std::filesystem;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using test::TempDir;

class PolicyTest : public ::testing::Test
{
  protected:
    Policy load()
    {
        return loadPolicyDir(tmp.path());
    }

    /**
     * @brief Loads a directory holding just @p text as 10-test.toml and
     * returns the message, which must start with "FILE:LINE:COLUMN: ".
     */
    std::string errorOf(const std::string& text, int line, int column)
    {
        std::string file = tmp.write("10-test.toml", text);
        try
        {
            load();
        }
        catch (const Error& e)
        {
            EXPECT_EQ(e.code(), Errc::InvalidArgument);
            std::string prefix = file + ":" + std::to_string(line) + ":" +
                                 std::to_string(column) + ": ";
            EXPECT_THAT(e.what(), StartsWith(prefix)) << text;
            return std::string(e.what()).substr(
                std::min(prefix.size(), std::string(e.what()).size()));
        }
        ADD_FAILURE() << "no error for:\n" << text;
        return "";
    }

    /** @brief A one-rule file with @p match lines and @p actions lines. */
    static std::string rule(const std::string& match,
                            const std::string& actions = "")
    {
        std::string text = "[[rule]]\n"
                           "name = \"r\"\n"
                           "\n"
                           "[rule.match]\n" +
                           match;
        if (!actions.empty())
        {
            text += "\n[rule.actions]\n" + actions;
        }
        return text;
    }

    TempDir tmp;
};

inline PciDevice nic()
{
    PciDevice d;
    d.address = PciAddress::parse("0000:03:00.0");
    d.vendorId = 0x8086;
    d.deviceId = 0x1572;
    d.subsystemVendorId = 0x8086;
    d.subsystemDeviceId = 0x0001;
    d.classCode = 0x020000;
    d.driver = "i40e";
    d.physicalSlot = "4";
    return d;
}

inline PciDevice vf(unsigned index)
{
    PciDevice d = nic();
    d.address = PciAddress::parse("0000:03:02.0");
    d.address.function = static_cast<uint8_t>(index);
    d.deviceId = 0x154c;
    d.driver = "iavf";
    d.physicalSlot = "";
    d.physfn = PciAddress::parse("0000:03:00.0");
    d.vfIndex = index;
    return d;
}

} // namespace vfiod
