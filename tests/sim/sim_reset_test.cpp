// reset and reset_method.

#include "sim_test_util.hpp"

#include <cerrno>

#include <gtest/gtest.h>

namespace vfiod::simtest
{
namespace
{

class SimReset : public SimFixture
{
  protected:
    const std::string dev = "bus/pci/devices/0000:01:00.0/";
};

TEST_F(SimReset, WritingOneResetsAndIsCounted)
{
    EXPECT_EQ(read(dev + "sim_reset_count"), "0\n");
    EXPECT_EQ(writeErrno(dev + "reset", "1"), 0);
    EXPECT_EQ(writeErrno(dev + "reset", "1\n"), 0);
    EXPECT_EQ(read(dev + "sim_reset_count"), "2\n");
    EXPECT_EQ(writeErrno(dev + "reset", "0"), EINVAL);
    EXPECT_EQ(writeErrno(dev + "reset", "2"), EINVAL);
    EXPECT_EQ(writeErrno(dev + "reset", "yes"), EINVAL);
    EXPECT_EQ(read(dev + "sim_reset_count"), "2\n");
}

TEST_F(SimReset, FailingMethodsFallThroughThenEnotty)
{
    const std::string bad = "bus/pci/devices/0000:04:00.0/";
    // flr fails, bus works.
    EXPECT_EQ(writeErrno(bad + "reset", "1"), 0);
    EXPECT_EQ(read(bad + "sim_reset_count"), "1\n");
    ASSERT_EQ(writeErrno(bad + "reset_method", "flr"), 0);
    EXPECT_EQ(writeErrno(bad + "reset", "1"), ENOTTY);
    EXPECT_EQ(read(bad + "sim_reset_count"), "1\n");
}

TEST_F(SimReset, ResetMethodSelectsReordersDisablesAndRestores)
{
    EXPECT_EQ(writeErrno(dev + "reset_method", "bus flr\n"), 0);
    EXPECT_EQ(read(dev + "reset_method"), "bus flr\n");
    EXPECT_EQ(writeErrno(dev + "reset_method", "acpi"), EINVAL);
    EXPECT_EQ(writeErrno(dev + "reset_method", "flr bogus"), EINVAL);
    EXPECT_EQ(read(dev + "reset_method"), "bus flr\n"); // unchanged
    EXPECT_EQ(writeErrno(dev + "reset_method", ""), 0);
    EXPECT_EQ(read(dev + "reset_method"), "");
    EXPECT_TRUE(host->exists(dev + "reset")); // the file stays
    EXPECT_EQ(writeErrno(dev + "reset", "1"), ENOTTY);
    EXPECT_EQ(writeErrno(dev + "reset_method", "default"), 0);
    EXPECT_EQ(read(dev + "reset_method"), "flr pm bus\n");
}

} // namespace
} // namespace vfiod::simtest
