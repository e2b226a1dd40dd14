// policy.d: loading a directory and parsing its files, with every
// mistake refused at its FILE:LINE:COLUMN.
#include "base/toml_reader.hpp"
#include "policy_test_util.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace vfiod
{
namespace
{

// ---------------------------------------------------------------------
// Loading a directory

TEST_F(PolicyTest, MissingDirectoryIsAnEmptyPolicy)
{
    Policy policy = loadPolicyDir(tmp.path() + "/none");
    EXPECT_THAT(policy.rules, IsEmpty());
    EXPECT_THAT(policy.files, IsEmpty());
    EXPECT_EQ(policy.match(nic()), nullptr);
}

TEST_F(PolicyTest, DirectoryThatIsAFileIsRefused)
{
    std::string file = tmp.write("plain", "");
    EXPECT_THROW(loadPolicyDir(file), Error);
}

TEST_F(PolicyTest, ReadsOnlyTomlRegularFilesInByteOrder)
{
    tmp.write("20-b.toml", "[[rule]]\nname = \"b\"\nmatch = { vendor = 2 }\n");
    tmp.write("10-a.toml", "[[rule]]\nname = \"a\"\nmatch = { vendor = 1 }\n");
    // Byte order, not the locale's: 'Z' (0x5a) sorts before 'a' (0x61).
    tmp.write("a-lower.toml", "");
    tmp.write("Z-upper.toml", "");
    tmp.write("30-c.toml.example", "garbage [");
    tmp.write("README", "garbage [");
    tmp.write(".hidden.toml", "garbage [");
    fs::create_symlink("/dev/null", fs::path(tmp.path()) / "50-masked.toml");
    fs::create_symlink("/nonexistent", fs::path(tmp.path()) / "55-gone.toml");
    fs::create_symlink("10-a.toml", fs::path(tmp.path()) / "60-link.toml");

    // The link to 10-a.toml is read too, and its rule name is a duplicate.
    EXPECT_THROW(load(), Error);
    fs::remove(fs::path(tmp.path()) / "60-link.toml");

    Policy policy = load();
    EXPECT_THAT(policy.files, ElementsAre(tmp.path() + "/10-a.toml",
                                          tmp.path() + "/20-b.toml",
                                          tmp.path() + "/Z-upper.toml",
                                          tmp.path() + "/a-lower.toml"));
    ASSERT_EQ(policy.rules.size(), 2u);
    EXPECT_EQ(policy.rules[0].name, "a");
    EXPECT_EQ(policy.rules[0].file, tmp.path() + "/10-a.toml");
    EXPECT_EQ(policy.rules[0].line, 1);
    EXPECT_EQ(policy.rules[1].name, "b");
}

/** @brief The message loadPolicyDir() refuses @p dir with. */
std::string dirError(const std::string& dir)
{
    try
    {
        loadPolicyDir(dir);
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

// A NAME.toml that is not a regular file holds rules the administrator
// meant to apply: it is refused by name rather than skipped, and reading
// it never waits (a FIFO) nor grows without end (/dev/zero).
TEST_F(PolicyTest, RefusesAFifo)
{
    tmp.write("10-a.toml", "[[rule]]\nname = \"a\"\nmatch = { vendor = 1 }\n");
    std::string fifo = tmp / "20-fifo.toml";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(dirError(tmp.path()), fifo + ": not a regular file (FIFO)");
}

TEST_F(PolicyTest, RefusesADirectoryNamedToml)
{
    fs::create_directory(tmp / "40-dir.toml");
    EXPECT_EQ(dirError(tmp.path()), tmp / "40-dir.toml" + ": is a directory");
}

TEST_F(PolicyTest, RefusesALinkToDevZero)
{
    fs::create_symlink("/dev/zero", tmp / "50-zero.toml");
    EXPECT_EQ(dirError(tmp.path()),
              tmp / "50-zero.toml" + ": not a regular file (character device)");
}

TEST_F(PolicyTest, RefusesAnOversizedFile)
{
    std::string big = tmp.write("10-big.toml",
                                std::string(toml_reader::maxFileSize + 1, '#'));
    EXPECT_EQ(dirError(tmp.path()),
              big + ": too large (1048577 bytes, at most 1048576)");
}

// Thousands of files, each one rule: every rule is there in order, and a
// duplicate name in the last file still names the first definition. The
// names of earlier files are kept in one index for the whole directory
// (policy_reader::appendFile), not rebuilt per file.
TEST_F(PolicyTest, LoadsThousandsOfFiles)
{
    constexpr int count = 2000;
    auto nameOf = [](int i) {
        char name[16];
        std::snprintf(name, sizeof name, "%05d", i);
        return std::string(name);
    };
    for (int i = 0; i < count; ++i)
    {
        tmp.write(nameOf(i) + ".toml",
                  "[[rule]]\nname = \"r" + nameOf(i) +
                      "\"\nmatch = { vendor = " + std::to_string(i) + " }\n");
    }
    Policy policy = load();
    ASSERT_EQ(policy.rules.size(), static_cast<size_t>(count));
    ASSERT_EQ(policy.files.size(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i)
    {
        EXPECT_EQ(policy.rules[i].name, "r" + nameOf(i));
        EXPECT_EQ(policy.rules[i].file, tmp / (nameOf(i) + ".toml"));
        EXPECT_EQ(policy.rules[i].match.vendor.value_or(0xffff), i);
    }

    std::string last = tmp.write("99999.toml", "[[rule]]\nname = \"r01000\"\n"
                                               "match = { all = true }\n");
    EXPECT_EQ(dirError(tmp.path()),
              last + ":2:8: duplicate rule name \"r01000\", first defined at " +
                  (tmp / "01000.toml") + ":1");
}

// Two rules of one name in one file among many: refused at the second.
TEST_F(PolicyTest, DuplicateWithinOneFileAmongMany)
{
    tmp.write("10-a.toml", "[[rule]]\nname = \"a\"\nmatch = { all = true }\n");
    std::string file = tmp.write(
        "20-b.toml", "[[rule]]\nname = \"b\"\nmatch = { all = true }\n"
                     "[[rule]]\nname = \"b\"\nmatch = { all = true }\n");
    EXPECT_EQ(dirError(tmp.path()),
              file + ":5:8: duplicate rule name \"b\", first defined at " +
                  file + ":1");
}

TEST_F(PolicyTest, ParsesEveryKey)
{
    tmp.write("10-all.toml", R"(
[[rule]]
name = "everything"

[rule.match]
vendor = 0x8086
device = [0x1572, 0x1583]
subsystem_vendor = 0x8086
subsystem_device = 1
class = 0x020000
class_mask = 0xff0000
address = ["0000:03:00.0", "04:00.1"]
driver = "i40e"
slot = ["4", "5"]

[rule.actions]
bind = "mlx5_vfio_pci"
reset_method = "af_flr"
plugin = "intel"
users = ["alice", "svc_vm-1$"]
groups = ["kvm"]
on_release = "host"
reset_on_release = false

[[rule]]
name = "vfs"
match = { pf = "0000:03:00.0", vf_index = [1, "4-6"] }
)");
    Policy policy = load();
    ASSERT_EQ(policy.rules.size(), 2u);
    const PolicyRule& r = policy.rules[0];
    EXPECT_EQ(r.line, 2);
    EXPECT_EQ(r.match.vendor, 0x8086);
    EXPECT_THAT(r.match.devices, ElementsAre(0x1572, 0x1583));
    EXPECT_EQ(r.match.subsystemVendor, 0x8086);
    EXPECT_EQ(r.match.subsystemDevice, 1);
    EXPECT_EQ(r.match.classCode, 0x020000u);
    EXPECT_EQ(r.match.classMask, 0xff0000u);
    EXPECT_THAT(r.match.addresses,
                ElementsAre(PciAddress::parse("0000:03:00.0"),
                            PciAddress::parse("0000:04:00.1")));
    EXPECT_THAT(r.match.drivers, ElementsAre("i40e"));
    EXPECT_THAT(r.match.slots, ElementsAre("4", "5"));
    EXPECT_EQ(r.actions.bind, "mlx5_vfio_pci");
    EXPECT_EQ(r.actions.resetMethod, "af_flr");
    EXPECT_EQ(r.actions.plugin, "intel");
    EXPECT_THAT(r.actions.users, ElementsAre("alice", "svc_vm-1$"));
    EXPECT_THAT(r.actions.groups, ElementsAre("kvm"));
    EXPECT_EQ(r.actions.onRelease, OnRelease::Host);
    EXPECT_FALSE(r.actions.resetOnRelease);

    const PolicyRule& v = policy.rules[1];
    EXPECT_EQ(v.line, 25);
    EXPECT_EQ(v.match.pf, PciAddress::parse("0000:03:00.0"));
    EXPECT_THAT(v.match.vfIndexes,
                ElementsAre(VfIndexRange{1, 1}, VfIndexRange{4, 6}));
    // No [rule.actions]: the defaults.
    EXPECT_EQ(v.actions.bind, "");
    EXPECT_EQ(v.actions.onRelease, OnRelease::Vfio);
    EXPECT_TRUE(v.actions.resetOnRelease);
}

TEST_F(PolicyTest, ExampleFileParsesUnderATomlName)
{
    std::string root = test::requiredEnv("VFIOD_SOURCE_ROOT");
    fs::copy_file(fs::path(root) / "conf/policy.d/50-example.toml.example",
                  fs::path(tmp.path()) / "50-example.toml");
    Policy policy = load();
    EXPECT_EQ(policy.files.size(), 1u);
    EXPECT_EQ(policy.rules.size(), 5u);
    EXPECT_EQ(policy.rules.front().name, "boot-gpu");
}

TEST_F(PolicyTest, FileWithoutRulesIsFine)
{
    tmp.write("10-empty.toml", "# nothing yet\n");
    Policy policy = load();
    EXPECT_EQ(policy.files.size(), 1u);
    EXPECT_THAT(policy.rules, IsEmpty());
}

// ---------------------------------------------------------------------
// Errors, each with its exact position

TEST_F(PolicyTest, SyntaxError)
{
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\nvendor = = 1\n", 3, 10),
                Not(IsEmpty()));
}

TEST_F(PolicyTest, UnknownKeys)
{
    EXPECT_THAT(errorOf("rules = []\n", 1, 1),
                HasSubstr("unknown key \"rules\" (known: rule)"));
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\nnmae = \"b\"\n", 3, 1),
                HasSubstr("unknown key \"rule.nmae\""));
    EXPECT_THAT(errorOf(rule("vendor = 1\nvendorr = 2\n"), 6, 1),
                HasSubstr("unknown key \"match.vendorr\""));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "bind = \"vfio-pci\"\n"
                                             "autobind = true\n"),
                        9, 1),
                HasSubstr("unknown key \"actions.autobind\""));
}

TEST_F(PolicyTest, WrongTypes)
{
    EXPECT_THAT(errorOf("rule = 5\n", 1, 8),
                HasSubstr("\"rule\" must be an array of tables"));
    EXPECT_THAT(errorOf("rule = [1]\n", 1, 9),
                HasSubstr("\"rule\" must be a table, not an integer"));
    EXPECT_THAT(errorOf("[[rule]]\nname = 1\n", 2, 8),
                HasSubstr("\"rule.name\" must be a string, not an integer"));
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\nmatch = 5\n", 3, 9),
                HasSubstr("\"match\" must be a table, not an integer"));
    EXPECT_THAT(errorOf(rule("vendor = \"0x8086\"\n"), 5, 10),
                HasSubstr("\"match.vendor\" must be an integer, not a string"));
    EXPECT_THAT(errorOf(rule("device = [1, \"2\"]\n"), 5, 14),
                HasSubstr("\"match.device\" must be an integer"));
    EXPECT_THAT(errorOf(rule("all = 1\n"), 5, 7),
                HasSubstr("\"match.all\" must be a boolean"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "bind = true\n"), 8, 8),
                HasSubstr("\"actions.bind\" must be a string, not a boolean"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "users = \"alice\"\n"), 8, 9),
                HasSubstr("\"actions.users\" must be an array of names"));
    EXPECT_THAT(
        errorOf(rule("vendor = 1\n", "reset_on_release = \"no\"\n"), 8, 20),
        HasSubstr("\"actions.reset_on_release\" must be a boolean"));
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\nmatch = { all = true }\n"
                        "actions = []\n",
                        4, 11),
                HasSubstr("\"actions\" must be a table, not an array"));
    EXPECT_THAT(errorOf(rule("device = []\n"), 5, 10),
                HasSubstr("\"match.device\" must not be an empty array"));
}

TEST_F(PolicyTest, BadIds)
{
    EXPECT_THAT(errorOf(rule("vendor = -1\n"), 5, 10),
                HasSubstr("\"match.vendor\" = -1 is out of range (0 to "
                          "0xffff)"));
    EXPECT_THAT(errorOf(rule("vendor = 0x10000\n"), 5, 10),
                HasSubstr("= 0x10000 is out of range (0 to 0xffff)"));
    EXPECT_THAT(errorOf(rule("device = [1, 0x10000]\n"), 5, 14),
                HasSubstr("\"match.device\" = 0x10000 is out of range"));
    EXPECT_THAT(errorOf(rule("subsystem_vendor = 65536\n"), 5, 20),
                HasSubstr("\"match.subsystem_vendor\" = 0x10000"));
    EXPECT_THAT(errorOf(rule("subsystem_device = -5\n"), 5, 20),
                HasSubstr("\"match.subsystem_device\" = -5"));
    EXPECT_THAT(errorOf(rule("class = 0x1000000\n"), 5, 9),
                HasSubstr("\"match.class\" = 0x1000000 is out of range (0 to "
                          "0xffffff)"));
    EXPECT_THAT(errorOf(rule("class = 0x030000\nclass_mask = -1\n"), 6, 14),
                HasSubstr("\"match.class_mask\" = -1 is out of range"));
}

TEST_F(PolicyTest, ClassMaskErrors)
{
    EXPECT_THAT(errorOf(rule("vendor = 1\nclass_mask = 0xff0000\n"), 6, 14),
                HasSubstr("\"match.class_mask\" needs \"match.class\""));
    EXPECT_THAT(errorOf(rule("class = 0x030000\nclass_mask = 0\n"), 6, 14),
                HasSubstr("would match every class"));
    EXPECT_THAT(errorOf(rule("class = 0x0300\nclass_mask = 0xff0000\n"), 5, 9),
                HasSubstr("has bits outside \"match.class_mask\" = 0xff0000"));
}

TEST_F(PolicyTest, EmptyMatches)
{
    EXPECT_THAT(errorOf(rule(""), 4, 1), HasSubstr("empty match"));
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\nmatch = {}\n", 3, 9),
                HasSubstr("all = true to match every device"));
    EXPECT_THAT(errorOf(rule("all = false\n"), 4, 1), HasSubstr("empty match"));
    // Only modifiers, no selector.
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\n"
                        "match = { vf_index = \"0-1\" }\n",
                        3, 22),
                HasSubstr("\"match.vf_index\" needs \"match.pf\""));
    EXPECT_THAT(errorOf("[[rule]]\nname = \"a\"\n", 1, 1),
                HasSubstr("rule \"a\" has no [rule.match]"));
    EXPECT_THAT(errorOf(rule("all = true\nvendor = 1\n"), 5, 7),
                HasSubstr("cannot be combined with other selectors"));
}

TEST_F(PolicyTest, RuleNames)
{
    EXPECT_THAT(errorOf("[[rule]]\nmatch = { all = true }\n", 1, 1),
                HasSubstr("rule without \"name\""));
    EXPECT_THAT(
        errorOf("[[rule]]\nname = \"a b\"\nmatch = { all = true }\n", 2, 8),
        HasSubstr("\"a b\" is not a rule name"));
    EXPECT_THAT(
        errorOf("[[rule]]\nname = \"\"\nmatch = { all = true }\n", 2, 8),
        HasSubstr("is not a rule name"));
}

TEST_F(PolicyTest, DuplicateNameInTheSameFile)
{
    std::string file = tmp.path() + "/10-test.toml";
    EXPECT_THAT(errorOf("\n[[rule]]\nname = \"a\"\nmatch = { all = true }\n"
                        "[[rule]]\nname = \"a\"\nmatch = { vendor = 1 }\n",
                        6, 8),
                HasSubstr("duplicate rule name \"a\", first defined at " +
                          file + ":2"));
}

TEST_F(PolicyTest, DuplicateNameAcrossFilesNamesTheFirst)
{
    std::string first =
        tmp.write("05-first.toml",
                  "\n\n[[rule]]\nname = \"r\"\nmatch = { vendor = 1 }\n");
    EXPECT_THAT(errorOf(rule("vendor = 2\n"), 2, 8),
                HasSubstr("duplicate rule name \"r\", first defined at " +
                          first + ":3"));
}

TEST_F(PolicyTest, InvalidDriverNames)
{
    EXPECT_THAT(errorOf(rule("driver = [\"i40e\", \"../x\"]\n"), 5, 19),
                HasSubstr("\"../x\" in \"match.driver\" is not a driver name"));
    EXPECT_THAT(errorOf(rule("driver = \"\"\n"), 5, 10),
                HasSubstr("is not a driver name"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "bind = \"mlx5_core\"\n"), 8, 8),
                HasSubstr("must be \"vfio-pci\", \"auto\" or a vfio-pci "
                          "variant driver (NAME_vfio_pci), not \"mlx5_core\""));
    EXPECT_THAT(
        errorOf(rule("vendor = 1\n", "bind = \"a/b_vfio_pci\"\n"), 8, 8),
        HasSubstr("not \"a/b_vfio_pci\""));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "bind = \"\"\n"), 8, 8),
                HasSubstr("\"actions.bind\" must be"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "plugin = \"x.so\"\n"), 8, 10),
                HasSubstr("\"x.so\" in \"actions.plugin\" is not a driver"));
}

TEST_F(PolicyTest, BadAddresses)
{
    EXPECT_THAT(errorOf(rule("address = \"0000:03:00.8\"\n"), 5, 11),
                HasSubstr("\"match.address\": invalid PCI address "
                          "\"0000:03:00.8\""));
    EXPECT_THAT(errorOf(rule("address = [\"03:00.0\", \"x\"]\n"), 5, 23),
                HasSubstr("invalid PCI address \"x\""));
    EXPECT_THAT(errorOf(rule("pf = \"0000:03:00\"\n"), 5, 6),
                HasSubstr("\"match.pf\": invalid PCI address"));
    EXPECT_THAT(errorOf(rule("pf = [\"0000:03:00.0\"]\n"), 5, 6),
                HasSubstr("\"match.pf\" must be a string, not an array"));
}

TEST_F(PolicyTest, BadVfIndexRanges)
{
    auto vfRule = [](const std::string& range) {
        return rule("pf = \"0000:03:00.0\"\nvf_index = " + range + "\n");
    };
    EXPECT_THAT(errorOf(vfRule("\"7-0\""), 6, 12),
                HasSubstr("\"match.vf_index\" = \"7-0\" is an empty range"));
    EXPECT_THAT(errorOf(vfRule("\"a-b\""), 6, 12),
                HasSubstr("= \"a-b\" is not a VF index range"));
    EXPECT_THAT(errorOf(vfRule("\"0-\""), 6, 12),
                HasSubstr("is not a VF index range"));
    EXPECT_THAT(errorOf(vfRule("\"-1\""), 6, 12),
                HasSubstr("is not a VF index range"));
    EXPECT_THAT(errorOf(vfRule("\"1-2-3\""), 6, 12),
                HasSubstr("is not a VF index range"));
    EXPECT_THAT(errorOf(vfRule("\"0-70000\""), 6, 12),
                HasSubstr("is not a VF index range"));
    EXPECT_THAT(errorOf(vfRule("[0, -1]"), 6, 16),
                HasSubstr("\"match.vf_index\" = -1 is out of range"));
    EXPECT_THAT(errorOf(vfRule("[]"), 6, 12),
                HasSubstr("must not be an empty array"));
    EXPECT_THAT(errorOf(vfRule("1.5"), 6, 12),
                HasSubstr("must be \"N-M\", an integer or an array of "
                          "integers, not a float"));
}

TEST_F(PolicyTest, UnknownResetMethod)
{
    EXPECT_THAT(
        errorOf(rule("vendor = 1\n", "reset_method = \"FLR\"\n"), 8, 16),
        HasSubstr("\"actions.reset_method\" must be one of "
                  "device_specific, acpi, flr, af_flr, pm, bus, "
                  "cxl_bus, not \"FLR\""));
}

TEST_F(PolicyTest, BadOnRelease)
{
    EXPECT_THAT(
        errorOf(rule("vendor = 1\n", "on_release = \"driver\"\n"), 8, 14),
        HasSubstr("\"actions.on_release\" must be \"host\" or "
                  "\"vfio\", not \"driver\""));
}

TEST_F(PolicyTest, BadUserAndGroupNames)
{
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "users = [\"al ice\"]\n"), 8, 10),
                HasSubstr("\"al ice\" in \"actions.users\" is not a user or "
                          "group name"));
    EXPECT_THAT(
        errorOf(rule("vendor = 1\n",
                     "groups = [\"kvm\", \"" + std::string(257, 'a') + "\"]\n"),
                8, 18),
        HasSubstr("in \"actions.groups\" is not a user or group"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "groups = [\"-kvm\"]\n"), 8, 11),
                HasSubstr("\"-kvm\""));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "groups = [\"a:b\"]\n"), 8, 11),
                HasSubstr("is not a user or group name"));
    EXPECT_THAT(errorOf(rule("vendor = 1\n", "users = [7]\n"), 8, 10),
                HasSubstr("\"actions.users\" must be a string"));
}

TEST_F(PolicyTest, BadSlotNames)
{
    EXPECT_THAT(errorOf(rule("slot = \"a/b\"\n"), 5, 8),
                HasSubstr("\"a/b\" in \"match.slot\" is not a slot name"));
    EXPECT_THAT(errorOf(rule("slot = 4\n"), 5, 8),
                HasSubstr("\"match.slot\" must be a string"));
}

TEST_F(PolicyTest, ErrorLeavesPolicyUnchanged)
{
    Policy policy;
    parsePolicyFile(policy, "[[rule]]\nname = \"a\"\nmatch = { all = true }\n",
                    "a.toml");
    EXPECT_THROW(parsePolicyFile(policy,
                                 "[[rule]]\nname = \"b\"\nmatch = { all = "
                                 "true }\n[[rule]]\nname = \"c\"\n",
                                 "b.toml"),
                 Error);
    EXPECT_EQ(policy.rules.size(), 1u);
    EXPECT_THAT(policy.files, ElementsAre("a.toml"));
}

} // namespace
} // namespace vfiod
