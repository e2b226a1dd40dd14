// PciAddress: parse, tryParse and the object path element, the text that
// ends up inside sysfs paths and D-Bus object paths.

#include "base/pci_address.hpp"
#include "fuzz_check.hpp"

using vfiod::Errc;
using vfiod::Error;
using vfiod::PciAddress;
namespace fuzz = vfiod::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text = fuzz::text(data, size);

    PciAddress tried;
    bool parsed = PciAddress::tryParse(text, tried);
    try
    {
        PciAddress address = PciAddress::parse(text);
        fuzz::require(parsed && address == tried,
                      "parse and tryParse agree on an accepted address");
        fuzz::require(address.device <= 0x1f && address.function <= 7,
                      "an accepted address has device <= 0x1f, function <= 7");
        fuzz::require(PciAddress::parse(address.str()) == address,
                      "str() parses back to the same address");
        fuzz::require(PciAddress::fromObjectPathElement(
                          address.objectPathElement()) == address,
                      "objectPathElement() parses back to the same address");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "PciAddress::parse");
        fuzz::require(!parsed, "tryParse refuses what parse refuses");
    }

    try
    {
        PciAddress address = PciAddress::fromObjectPathElement(text);
        fuzz::require(PciAddress::fromObjectPathElement(
                          address.objectPathElement()) == address,
                      "an accepted element's address round-trips");
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument,
                             "PciAddress::fromObjectPathElement");
    }
    return 0;
}
