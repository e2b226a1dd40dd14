#include "base/error.hpp"
#include "base/pci_address.hpp"

#include <gtest/gtest.h>

using vfiod::Errc;
using vfiod::Error;
using vfiod::PciAddress;

namespace
{

std::string rejectionOf(const std::string& text)
{
    try
    {
        PciAddress::parse(text);
    }
    catch (const Error& e)
    {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return {};
}

} // namespace

TEST(PciAddress, ParsesLongForm)
{
    auto a = PciAddress::parse("0000:03:00.0");
    EXPECT_EQ(a.domain, 0u);
    EXPECT_EQ(a.bus, 3);
    EXPECT_EQ(a.device, 0);
    EXPECT_EQ(a.function, 0);
    EXPECT_EQ(a.str(), "0000:03:00.0");
}

TEST(PciAddress, ParsesShortFormIntoDomainZero)
{
    auto a = PciAddress::parse("af:1f.7");
    EXPECT_EQ(a.domain, 0u);
    EXPECT_EQ(a.bus, 0xaf);
    EXPECT_EQ(a.device, 0x1f);
    EXPECT_EQ(a.function, 7);
    EXPECT_EQ(a.str(), "0000:af:1f.7");
}

TEST(PciAddress, AcceptsVmdDomainsAsTheKernelPrintsThem)
{
    auto a = PciAddress::parse("10000:e1:00.0");
    EXPECT_EQ(a.domain, 0x10000u);
    EXPECT_EQ(a.str(), "10000:e1:00.0");
    EXPECT_EQ(PciAddress::parse("ffffffff:00:00.0").domain, 0xffffffffu);
}

TEST(PciAddress, ObjectPathRoundTrip)
{
    auto a = PciAddress::parse("10000:e1:1f.3");
    EXPECT_EQ(a.objectPathElement(), "pci_10000_e1_1f_3");
    EXPECT_EQ(PciAddress::fromObjectPathElement("pci_10000_e1_1f_3"), a);
    EXPECT_EQ(PciAddress::parse("0000:03:00.0").objectPathElement(),
              "pci_0000_03_00_0");
    EXPECT_THROW(PciAddress::fromObjectPathElement("dev_0000_03_00_0"), Error);
    EXPECT_THROW(PciAddress::fromObjectPathElement("pci_0000_03_00"), Error);
}

TEST(PciAddress, OrdersByDomainBusDeviceFunction)
{
    EXPECT_LT(PciAddress::parse("0000:03:00.1"),
              PciAddress::parse("0000:03:01.0"));
    EXPECT_LT(PciAddress::parse("0000:ff:1f.7"),
              PciAddress::parse("0001:00:00.0"));
}

TEST(PciAddress, RejectsHostileInputWithPreciseMessages)
{
    EXPECT_NE(rejectionOf("").find("empty"), std::string::npos);
    EXPECT_NE(rejectionOf("../../etc/passwd").find("path separator"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.0/../../x").find("path separator"),
              std::string::npos);
    EXPECT_NE(rejectionOf("..:03:00.0").find(".."), std::string::npos);
    EXPECT_NE(rejectionOf(" 0000:03:00.0").find("white space"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.0\n").find("white space"),
              std::string::npos);
    EXPECT_NE(rejectionOf(std::string("0000:03:00.0\0x", 14)).find("control"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.01").find("trailing"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.0x").find("trailing"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:20.0").find("out of range"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.8").find("out of range"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:100:00.0").find("bus"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:3:00.0").find("bus"), std::string::npos);
    EXPECT_NE(rejectionOf("000:03:00.0").find("domain"), std::string::npos);
    EXPECT_NE(rejectionOf("100000000:03:00.0").find("domain"),
              std::string::npos);
    EXPECT_NE(rejectionOf("0000:0A:00.0").find("uppercase"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00").find("ends"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.").find("missing"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00:0").find("expected"), std::string::npos);
    EXPECT_NE(rejectionOf("0000-03-00.0").find("expected"), std::string::npos);
    EXPECT_NE(rejectionOf("0:0:0:03:00.0").find("expected"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:03:00.-1").find("digit"), std::string::npos);
    EXPECT_NE(rejectionOf("0000:0g:00.0").find("bus"), std::string::npos);
    EXPECT_NE(rejectionOf("caf\xc3\xa9:00.0").find("non-ASCII"),
              std::string::npos);
}

TEST(PciAddress, TryParseDoesNotThrow)
{
    PciAddress a;
    EXPECT_TRUE(PciAddress::tryParse("0000:00:02.0", a));
    EXPECT_EQ(a.device, 2);
    EXPECT_FALSE(PciAddress::tryParse("nonsense", a));
}
