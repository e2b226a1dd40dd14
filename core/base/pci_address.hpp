#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace vfiod
{

/**
 * @brief A PCI function address: domain, bus, device, function.
 *
 * Parsing is strict because the text ends up inside sysfs paths: it accepts
 * what the kernel prints ("DDDD:BB:DD.F", with 4 to 8 lowercase hex domain
 * digits for VMD-style domains such as 10000) and the short "BB:DD.F" form
 * (domain 0000), and nothing else.
 */
struct PciAddress
{
    uint32_t domain = 0;
    uint8_t bus = 0;
    uint8_t device = 0;   ///< 0..0x1f
    uint8_t function = 0; ///< 0..7

    /**
     * @brief Parses an address.
     * @throws Error(Errc::InvalidArgument) with a message naming the fault.
     */
    static PciAddress parse(std::string_view text);

    /** @brief Like parse(), but returns false instead of throwing. */
    static bool tryParse(std::string_view text, PciAddress& out) noexcept;

    /** @brief Canonical kernel form, e.g. "0000:03:00.0". */
    std::string str() const;

    /** @brief D-Bus object path element, e.g. "pci_0000_03_00_0". */
    std::string objectPathElement() const;

    /**
     * @brief Inverse of objectPathElement().
     * @throws Error(Errc::InvalidArgument)
     */
    static PciAddress fromObjectPathElement(std::string_view element);

    auto operator<=>(const PciAddress&) const = default;
};

} // namespace vfiod
