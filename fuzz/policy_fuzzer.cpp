// policy.d files (config/policy_*.cpp): the rules of one file, their
// selectors and actions, the refusal of a name defined twice, then the
// matching and the udev rules an accepted policy implies.

#include "base/toml_reader.hpp"
#include "config/policy.hpp"
#include "config/udev_rules.hpp"
#include "fuzz_check.hpp"

#include <string>
#include <vector>

using vfiod::Errc;
using vfiod::Error;
using vfiod::PciAddress;
using vfiod::PciDevice;
using vfiod::Policy;
namespace fuzz = vfiod::fuzz;

namespace
{

/** @brief A GPU on its host driver and a VF of a NIC, for the matching. */
std::vector<PciDevice> devices()
{
    PciDevice gpu;
    gpu.address = PciAddress::parse("0000:01:00.0");
    gpu.vendorId = 0x10de;
    gpu.deviceId = 0x2204;
    gpu.subsystemVendorId = 0x1458;
    gpu.subsystemDeviceId = 0x403b;
    gpu.classCode = 0x030000;
    gpu.driver = "nouveau";
    gpu.iommuGroup = 1;
    gpu.physicalSlot = "3";

    PciDevice vf;
    vf.address = PciAddress::parse("0000:03:00.2");
    vf.vendorId = 0x15b3;
    vf.deviceId = 0x101e;
    vf.classCode = 0x020000;
    vf.iommuGroup = 7;
    vf.physfn = PciAddress::parse("0000:03:00.0");
    vf.vfIndex = 1;
    return {gpu, vf};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // loadPolicyDir reads no file larger than this.
    if (size > vfiod::toml_reader::maxFileSize)
    {
        return 0;
    }
    std::string_view text = fuzz::text(data, size);
    Policy policy;
    try
    {
        vfiod::parsePolicyFile(policy, text, "fuzz.toml");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "parsePolicyFile");
        fuzz::require(policy.rules.empty() && policy.files.empty(),
                      "a refused file leaves the policy unchanged");
        return 0;
    }

    // The same file again: every rule name is then taken.
    if (!policy.rules.empty())
    {
        Policy before = policy;
        try
        {
            vfiod::parsePolicyFile(policy, text, "again.toml");
            fuzz::require(false, "a rule name defined twice is refused");
        }
        catch (const Error& e)
        {
            fuzz::requireRefusal(e, Errc::InvalidArgument,
                                 "parsePolicyFile (names taken)");
        }
        fuzz::require(policy.rules.size() == before.rules.size() &&
                          policy.files == before.files,
                      "a refused file leaves the policy unchanged");
    }

    std::vector<PciDevice> all = devices();
    for (const PciDevice& device : all)
    {
        const vfiod::PolicyRule* rule = policy.match(device);
        vfiod::PolicyExplanation why = policy.explain(device);
        fuzz::require(why.matched == (rule != nullptr) &&
                          (rule == nullptr || why.rule == rule->name),
                      "explain() says what match() found");
    }
    (void)vfiod::generateUdevRules(policy, all);
    return 0;
}
