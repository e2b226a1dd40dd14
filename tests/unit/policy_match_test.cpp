// policy.d: which rule selects a device, and what Explain says.
#include "policy_test_util.hpp"

#include <cstdlib>
#include <fstream>

namespace vfiod
{
namespace
{

// ---------------------------------------------------------------------
// Matching

/** @brief Whether a one-rule policy with @p match matches @p device. */
bool matches(const std::string& match, const PciDevice& device)
{
    Policy policy;
    parsePolicyFile(policy,
                    "[[rule]]\nname = \"r\"\nmatch = { " + match + " }\n",
                    "m.toml");
    return policy.match(device) != nullptr;
}

TEST(PolicyMatchTest, EachSelector)
{
    PciDevice d = nic();
    EXPECT_TRUE(matches("all = true", d));

    EXPECT_TRUE(matches("vendor = 0x8086", d));
    EXPECT_FALSE(matches("vendor = 0x10de", d));

    EXPECT_TRUE(matches("device = 0x1572", d));
    EXPECT_TRUE(matches("device = [0x1583, 0x1572]", d));
    EXPECT_FALSE(matches("device = [0x1583, 0x1584]", d));

    EXPECT_TRUE(matches("subsystem_vendor = 0x8086", d));
    EXPECT_FALSE(matches("subsystem_vendor = 0x1028", d));
    EXPECT_TRUE(matches("subsystem_device = 1", d));
    EXPECT_FALSE(matches("subsystem_device = 2", d));

    EXPECT_TRUE(matches("class = 0x020000", d));
    EXPECT_FALSE(matches("class = 0x020001", d));
    EXPECT_TRUE(matches("class = 0x020000, class_mask = 0xffff00", d));
    EXPECT_TRUE(matches("class = 0x020000, class_mask = 0xff0000", d));
    EXPECT_FALSE(matches("class = 0x030000, class_mask = 0xff0000", d));

    EXPECT_TRUE(matches("address = \"03:00.0\"", d));
    EXPECT_TRUE(matches("address = [\"0000:04:00.0\", \"0000:03:00.0\"]", d));
    EXPECT_FALSE(matches("address = \"0000:03:00.1\"", d));
    EXPECT_FALSE(matches("address = \"0001:03:00.0\"", d));

    EXPECT_TRUE(matches("driver = [\"ixgbe\", \"i40e\"]", d));
    EXPECT_FALSE(matches("driver = \"ixgbe\"", d));
    PciDevice unbound = d;
    unbound.driver = "";
    EXPECT_FALSE(matches("driver = \"i40e\"", unbound));

    EXPECT_TRUE(matches("slot = \"4\"", d));
    EXPECT_TRUE(matches("slot = [\"3\", \"4\"]", d));
    EXPECT_FALSE(matches("slot = \"5\"", d));
    PciDevice noSlot = d;
    noSlot.physicalSlot = "";
    EXPECT_FALSE(matches("slot = \"4\"", noSlot));
}

TEST(PolicyMatchTest, EverySelectorMustMatch)
{
    PciDevice d = nic();
    EXPECT_TRUE(
        matches("vendor = 0x8086, device = 0x1572, driver = \"i40e\"", d));
    EXPECT_FALSE(
        matches("vendor = 0x8086, device = 0x1572, driver = \"x\"", d));
    EXPECT_FALSE(matches("vendor = 0x8086, slot = \"9\"", d));
}

TEST(PolicyMatchTest, VfByPfAndIndexRange)
{
    const char* sel = "pf = \"0000:03:00.0\", vf_index = \"2-5\"";
    EXPECT_FALSE(matches(sel, vf(1)));
    EXPECT_TRUE(matches(sel, vf(2)));
    EXPECT_TRUE(matches(sel, vf(5)));
    EXPECT_FALSE(matches(sel, vf(6)));
    // The PF itself is no VF of itself.
    EXPECT_FALSE(matches(sel, nic()));
    EXPECT_FALSE(matches("pf = \"0000:03:00.0\"", nic()));

    // A VF of another PF.
    PciDevice other = vf(3);
    other.physfn = PciAddress::parse("0000:04:00.0");
    EXPECT_FALSE(matches(sel, other));

    // Every VF of the PF; a list of indexes; a single index.
    EXPECT_TRUE(matches("pf = \"03:00.0\"", vf(7)));
    EXPECT_TRUE(matches("pf = \"03:00.0\", vf_index = [0, 7]", vf(7)));
    EXPECT_FALSE(matches("pf = \"03:00.0\", vf_index = [0, 6]", vf(7)));
    EXPECT_TRUE(matches("pf = \"03:00.0\", vf_index = 4", vf(4)));
    EXPECT_TRUE(matches("pf = \"03:00.0\", vf_index = [\"0-1\", 4]", vf(4)));

    // A VF whose index is unknown only matches "every VF".
    PciDevice lost = vf(3);
    lost.vfIndex.reset();
    EXPECT_TRUE(matches("pf = \"03:00.0\"", lost));
    EXPECT_FALSE(matches("pf = \"03:00.0\", vf_index = \"0-7\"", lost));
}

TEST_F(PolicyTest, FirstMatchWinsAcrossFiles)
{
    // 20-b sorts after 10-a, whatever the order they are created in.
    tmp.write("20-b.toml", "[[rule]]\nname = \"b\"\nmatch = { all = true }\n");
    tmp.write("10-a.toml", "[[rule]]\nname = \"a\"\n"
                           "match = { vendor = 0x8086 }\n");
    Policy policy = load();
    ASSERT_NE(policy.match(nic()), nullptr);
    EXPECT_EQ(policy.match(nic())->name, "a");
    PciDevice other = nic();
    other.vendorId = 0x10de;
    ASSERT_NE(policy.match(other), nullptr);
    EXPECT_EQ(policy.match(other)->name, "b");
}

TEST_F(PolicyTest, FirstMatchWinsWithinAFile)
{
    tmp.write("10-a.toml", R"([[rule]]
name = "specific"
match = { address = "0000:03:00.0" }

[[rule]]
name = "broad"
match = { vendor = 0x8086 }
actions = { bind = "vfio-pci" }

[[rule]]
name = "broader"
match = { all = true }
)");
    Policy policy = load();
    EXPECT_EQ(policy.match(nic())->name, "specific");
    PciDevice sibling = nic();
    sibling.address.function = 1;
    EXPECT_EQ(policy.match(sibling)->name, "broad");
    sibling.vendorId = 1;
    EXPECT_EQ(policy.match(sibling)->name, "broader");
}

TEST_F(PolicyTest, ExplainMatch)
{
    std::string file = tmp.write("10-a.toml", R"(
[[rule]]
name = "nic-vfs"
match = { pf = "0000:03:00.0", vf_index = "0-3" }

[rule.actions]
bind = "auto"
reset_method = "flr"
plugin = "intel"
users = ["alice"]
groups = ["kvm"]
on_release = "host"
reset_on_release = false
)");
    PolicyExplanation e = load().explain(vf(2));
    EXPECT_TRUE(e.matched);
    EXPECT_EQ(e.rule, "nic-vfs");
    EXPECT_EQ(e.file, file);
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.actions.bind, "auto");
    EXPECT_EQ(e.actions.resetMethod, "flr");
    EXPECT_EQ(e.actions.plugin, "intel");
    EXPECT_THAT(e.actions.users, ElementsAre("alice"));
    EXPECT_THAT(e.actions.groups, ElementsAre("kvm"));
    EXPECT_EQ(e.actions.onRelease, OnRelease::Host);
    EXPECT_EQ(onReleaseName(e.actions.onRelease), "host");
    EXPECT_FALSE(e.actions.resetOnRelease);
}

TEST_F(PolicyTest, ExplainNoMatch)
{
    tmp.write("10-a.toml", "[[rule]]\nname = \"gpu\"\n"
                           "match = { class = 0x030000, class_mask = "
                           "0xff0000 }\nactions = { bind = \"vfio-pci\" }\n");
    PolicyExplanation e = load().explain(nic());
    EXPECT_FALSE(e.matched);
    EXPECT_EQ(e.rule, "");
    EXPECT_EQ(e.file, "");
    EXPECT_EQ(e.line, 0);
    EXPECT_EQ(e.actions.bind, "");
    EXPECT_EQ(e.actions.resetMethod, "");
    EXPECT_EQ(e.actions.plugin, "");
    EXPECT_THAT(e.actions.users, IsEmpty());
    EXPECT_EQ(e.actions.onRelease, OnRelease::Vfio);
    EXPECT_EQ(onReleaseName(e.actions.onRelease), "vfio");
    EXPECT_TRUE(e.actions.resetOnRelease);
}

} // namespace
} // namespace vfiod
