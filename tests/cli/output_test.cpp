#include "json_writer.hpp"
#include "output.hpp"

#include <limits>
#include <sstream>

#include <gtest/gtest.h>

using vfioctl::JsonWriter;
using vfioctl::PropertyMap;

namespace
{

std::string escaped(std::string_view text)
{
    std::ostringstream out;
    JsonWriter::writeString(out, text);
    return out.str();
}

} // namespace

TEST(JsonWriter, EscapesWhatRfc8259Requires)
{
    EXPECT_EQ(escaped("plain"), "\"plain\"");
    EXPECT_EQ(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(escaped("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(escaped(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
    EXPECT_EQ(escaped(std::string("\0", 1)), "\"\\u0000\"");
    // UTF-8 and DEL pass through untouched.
    EXPECT_EQ(escaped("gr\xc3\xbc\xc3\x9f\x7f"), "\"gr\xc3\xbc\xc3\x9f\x7f\"");
}

TEST(JsonWriter, PlacesCommasAndColons)
{
    std::ostringstream out;
    JsonWriter json(out);
    json.beginObject();
    json.key("a");
    json.value(int64_t{-1});
    json.key("b");
    json.beginArray();
    json.value("x");
    json.value(true);
    json.null();
    json.beginObject();
    json.endObject();
    json.endArray();
    json.key("c");
    json.value(uint64_t{18446744073709551615u});
    json.key("d");
    json.value(0.5);
    json.endObject();
    EXPECT_EQ(out.str(), "{\"a\":-1,\"b\":[\"x\",true,null,{}],"
                         "\"c\":18446744073709551615,\"d\":0.5}");
}

TEST(JsonWriter, NonFiniteNumbersBecomeNull)
{
    std::ostringstream out;
    JsonWriter json(out);
    json.beginArray();
    json.value(std::numeric_limits<double>::infinity());
    json.value(std::numeric_limits<double>::quiet_NaN());
    json.endArray();
    EXPECT_EQ(out.str(), "[null,null]");
}

TEST(Output, DeviceJsonKeepsDbusNamesAndTypes)
{
    PropertyMap properties{
        {"Address", sdbus::Variant(std::string("0000:03:00.0"))},
        {"VendorId", sdbus::Variant(uint16_t{0x10de})},
        {"IommuGroup", sdbus::Variant(int32_t{-1})},
        {"ResetMethods",
         sdbus::Variant(std::vector<std::string>{"flr", "bus"})},
    };
    std::ostringstream out;
    JsonWriter json(out);
    vfioctl::writeDeviceJson(json, "/org/vfiod1/devices/pci_0000_03_00_0",
                             properties);
    EXPECT_EQ(out.str(),
              "{\"ObjectPath\":\"/org/vfiod1/devices/pci_0000_03_00_0\","
              "\"Address\":\"0000:03:00.0\",\"IommuGroup\":-1,"
              "\"ResetMethods\":[\"flr\",\"bus\"],\"VendorId\":4318}");
}

TEST(Output, HumanValuesUseLspciNotation)
{
    EXPECT_EQ(
        vfioctl::formatProperty("VendorId", sdbus::Variant(uint16_t{0x10de})),
        "10de");
    EXPECT_EQ(
        vfioctl::formatProperty("Class", sdbus::Variant(uint32_t{0x030000})),
        "030000");
    EXPECT_EQ(
        vfioctl::formatProperty("IommuGroup", sdbus::Variant(int32_t{12})),
        "12");
    EXPECT_EQ(vfioctl::formatProperty(
                  "ResetMethods",
                  sdbus::Variant(std::vector<std::string>{"flr", "bus"})),
              "flr, bus");
}

TEST(Output, TableAlignsColumns)
{
    vfioctl::Table table({"A", "LONGER"});
    table.addRow({"wide cell", "x"});
    table.addRow({"y", "z"});
    std::ostringstream out;
    table.print(out);
    EXPECT_EQ(out.str(), "A          LONGER\n"
                         "wide cell  x\n"
                         "y          z\n");
}
