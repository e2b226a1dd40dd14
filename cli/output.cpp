#include "output.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

namespace vfioctl
{

namespace
{

std::string hex(uint64_t value, int digits)
{
    char buf[24];
    std::snprintf(buf, sizeof buf, "%0*llx", digits,
                  static_cast<unsigned long long>(value));
    return buf;
}

int hexDigitsOf(const std::string& name)
{
    if (name == "VendorId" || name == "DeviceId" ||
        name == "SubsystemVendorId" || name == "SubsystemDeviceId")
    {
        return 4;
    }
    if (name == "Class")
    {
        return 6;
    }
    return 0;
}

/** The base-class names of the PCI Code and ID Assignment spec. */
std::string_view className(uint32_t classCode)
{
    static constexpr std::array<std::pair<uint8_t, std::string_view>, 20> names{
        {
            {0x00, "unclassified"},
            {0x01, "storage"},
            {0x02, "network"},
            {0x03, "display"},
            {0x04, "multimedia"},
            {0x05, "memory"},
            {0x06, "bridge"},
            {0x07, "communication"},
            {0x08, "system peripheral"},
            {0x09, "input"},
            {0x0a, "docking station"},
            {0x0b, "processor"},
            {0x0c, "serial bus"},
            {0x0d, "wireless"},
            {0x0e, "intelligent I/O"},
            {0x0f, "satellite"},
            {0x10, "encryption"},
            {0x11, "signal processing"},
            {0x12, "processing accelerator"},
            {0x40, "coprocessor"},
        }};
    auto base = static_cast<uint8_t>(classCode >> 16);
    for (const auto& [code, name] : names)
    {
        if (code == base)
        {
            return name;
        }
    }
    return "other";
}

template <typename T>
std::vector<std::string> toStrings(const sdbus::Variant& value)
{
    std::vector<std::string> out;
    for (const auto& item : value.get<std::vector<T>>())
    {
        out.push_back(item);
    }
    return out;
}

std::optional<int64_t> signedOf(const sdbus::Variant& value)
{
    const std::string type = value.peekValueType();
    if (type == "n")
    {
        return value.get<int16_t>();
    }
    if (type == "i")
    {
        return value.get<int32_t>();
    }
    if (type == "x")
    {
        return value.get<int64_t>();
    }
    return std::nullopt;
}

std::optional<uint64_t> unsignedOf(const sdbus::Variant& value)
{
    const std::string type = value.peekValueType();
    if (type == "y")
    {
        return value.get<uint8_t>();
    }
    if (type == "q")
    {
        return value.get<uint16_t>();
    }
    if (type == "u")
    {
        return value.get<uint32_t>();
    }
    if (type == "t")
    {
        return value.get<uint64_t>();
    }
    return std::nullopt;
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& item : items)
    {
        out += out.empty() ? "" : ", ";
        out += item;
    }
    return out;
}

std::string orDash(std::string text)
{
    return text.empty() ? "-" : text;
}

std::string propertyText(const PropertyMap& properties, const std::string& name)
{
    auto found = properties.find(name);
    return found == properties.end() ? std::string()
                                     : formatProperty(name, found->second);
}

std::string groupText(const PropertyMap& properties)
{
    auto found = properties.find("IommuGroup");
    if (found == properties.end())
    {
        return "";
    }
    auto group = signedOf(found->second);
    // -1 is the API's "no IOMMU group".
    return group && *group < 0 ? ""
                               : formatProperty("IommuGroup", found->second);
}

std::string idPair(const PropertyMap& properties, const std::string& vendor,
                   const std::string& device)
{
    std::string left = propertyText(properties, vendor);
    std::string right = propertyText(properties, device);
    return left.empty() && right.empty() ? "" : left + ":" + right;
}

std::string classText(const PropertyMap& properties)
{
    auto found = properties.find("Class");
    if (found == properties.end())
    {
        return "";
    }
    auto code = unsignedOf(found->second);
    if (!code)
    {
        return formatProperty("Class", found->second);
    }
    return hex(*code, 6) + " (" +
           std::string(className(static_cast<uint32_t>(*code))) + ")";
}

} // namespace

Table::Table(std::vector<std::string> headers) : headers(std::move(headers)) {}

void Table::addRow(std::vector<std::string> cells)
{
    cells.resize(headers.size());
    rows.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const
{
    std::vector<size_t> widths;
    for (const auto& header : headers)
    {
        widths.push_back(header.size());
    }
    for (const auto& row : rows)
    {
        for (size_t i = 0; i < row.size(); ++i)
        {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    auto printRow = [&](const std::vector<std::string>& cells) {
        for (size_t i = 0; i < cells.size(); ++i)
        {
            out << cells[i];
            if (i + 1 < cells.size())
            {
                out << std::string(widths[i] - cells[i].size() + 2, ' ');
            }
        }
        out << '\n';
    };
    printRow(headers);
    for (const auto& row : rows)
    {
        printRow(row);
    }
}

void writeJsonValue(JsonWriter& json, const sdbus::Variant& value)
{
    const std::string type = value.peekValueType();
    if (auto number = signedOf(value))
    {
        json.value(*number);
    }
    else if (auto number = unsignedOf(value))
    {
        json.value(*number);
    }
    else if (type == "s")
    {
        json.value(value.get<std::string>());
    }
    else if (type == "o")
    {
        json.value(std::string(value.get<sdbus::ObjectPath>()));
    }
    else if (type == "b")
    {
        json.value(value.get<bool>());
    }
    else if (type == "d")
    {
        json.value(value.get<double>());
    }
    else if (type == "as" || type == "ao")
    {
        json.beginArray();
        for (const auto& item : type == "as"
                                    ? value.get<std::vector<std::string>>()
                                    : toStrings<sdbus::ObjectPath>(value))
        {
            json.value(item);
        }
        json.endArray();
    }
    else if (type == "a{sv}")
    {
        json.beginObject();
        for (const auto& [key, item] : value.get<PropertyMap>())
        {
            json.key(key);
            writeJsonValue(json, item);
        }
        json.endObject();
    }
    else
    {
        json.null();
    }
}

void writeDeviceJson(JsonWriter& json, const std::string& path,
                     const PropertyMap& properties)
{
    json.beginObject();
    json.key("ObjectPath");
    json.value(path);
    for (const auto& [name, value] : properties)
    {
        json.key(name);
        writeJsonValue(json, value);
    }
    json.endObject();
}

std::string formatProperty(const std::string& name, const sdbus::Variant& value)
{
    const std::string type = value.peekValueType();
    if (auto number = unsignedOf(value))
    {
        int digits = hexDigitsOf(name);
        return digits > 0 ? hex(*number, digits) : std::to_string(*number);
    }
    if (auto number = signedOf(value))
    {
        return std::to_string(*number);
    }
    if (type == "s")
    {
        return value.get<std::string>();
    }
    if (type == "o")
    {
        return value.get<sdbus::ObjectPath>();
    }
    if (type == "b")
    {
        return value.get<bool>() ? "yes" : "no";
    }
    if (type == "d")
    {
        return std::to_string(value.get<double>());
    }
    if (type == "as")
    {
        return joined(value.get<std::vector<std::string>>());
    }
    if (type == "ao")
    {
        return joined(toStrings<sdbus::ObjectPath>(value));
    }
    return "(" + type + ")";
}

std::string stringProperty(const PropertyMap& properties,
                           const std::string& name)
{
    auto found = properties.find(name);
    if (found == properties.end() || found->second.peekValueType() != "s")
    {
        return "";
    }
    return found->second.get<std::string>();
}

namespace
{

/** @brief "1234 qemu-system-x86, 99 cloud-hypervisor"; "" when none. */
std::string heldByText(const PropertyMap& properties)
{
    auto found = properties.find("Holders");
    if (found == properties.end() || found->second.peekValueType() != "as")
    {
        return "";
    }
    std::string text;
    for (const std::string& holder :
         found->second.get<std::vector<std::string>>())
    {
        text += (text.empty() ? "" : ", ") + holder;
    }
    return text;
}

} // namespace

void printDeviceTable(std::ostream& out,
                      const std::vector<DeviceEntry>& devices)
{
    Table table({"ADDRESS", "VENDOR:DEVICE", "CLASS", "DRIVER", "STATE",
                 "GROUP", "OWNER", "HELD BY"});
    for (const auto& [path, properties] : devices)
    {
        std::string address = stringProperty(properties, "Address");
        table.addRow({
            address.empty() ? std::string(path) : address,
            orDash(idPair(properties, "VendorId", "DeviceId")),
            orDash(propertyText(properties, "Class")),
            orDash(stringProperty(properties, "Driver")),
            orDash(stringProperty(properties, "State")),
            orDash(groupText(properties)),
            orDash(stringProperty(properties, "Owner")),
            orDash(heldByText(properties)),
        });
    }
    table.print(out);
}

void printDeviceDetails(std::ostream& out, const PropertyMap& properties)
{
    // Ids are shown in pairs as lspci -nn does; the rest one per line in
    // the order a person checks them.
    std::vector<std::pair<std::string, std::string>> lines{
        {"vendor:device", idPair(properties, "VendorId", "DeviceId")},
        {"subsystem",
         idPair(properties, "SubsystemVendorId", "SubsystemDeviceId")},
        {"class", classText(properties)},
        {"driver", stringProperty(properties, "Driver")},
        {"original driver", stringProperty(properties, "OriginalDriver")},
        {"iommu group", groupText(properties)},
        {"state", stringProperty(properties, "State")},
        {"owner", stringProperty(properties, "Owner")},
        {"held by", heldByText(properties)},
        {"plugin", stringProperty(properties, "Plugin")},
        {"reset methods", propertyText(properties, "ResetMethods")},
        {"migration flags", propertyText(properties, "MigrationFlags")},
        {"migration state", propertyText(properties, "MigrationState")},
        {"last error", stringProperty(properties, "LastError")},
    };
    static const std::set<std::string> shown{"Address",
                                             "VendorId",
                                             "DeviceId",
                                             "SubsystemVendorId",
                                             "SubsystemDeviceId",
                                             "Class",
                                             "Driver",
                                             "OriginalDriver",
                                             "IommuGroup",
                                             "State",
                                             "Owner",
                                             "Holders",
                                             "Plugin",
                                             "ResetMethods",
                                             "MigrationFlags",
                                             "MigrationState",
                                             "LastError"};
    // Properties newer than this vfioctl still appear, under their names.
    for (const auto& [name, value] : properties)
    {
        if (!shown.contains(name))
        {
            lines.emplace_back(name, formatProperty(name, value));
        }
    }

    out << stringProperty(properties, "Address") << '\n';
    size_t width = 0;
    for (const auto& line : lines)
    {
        width = std::max(width, line.first.size());
    }
    for (const auto& [label, text] : lines)
    {
        out << "  " << label << ':'
            << std::string(width - label.size() + 2, ' ') << orDash(text)
            << '\n';
    }
}

std::string deviceSummary(const PropertyMap& properties)
{
    std::string summary =
        "driver " + orDash(stringProperty(properties, "Driver")) + ", state " +
        orDash(stringProperty(properties, "State"));
    std::string owner = stringProperty(properties, "Owner");
    if (!owner.empty())
    {
        summary += ", owner " + owner;
    }
    return summary;
}

} // namespace vfioctl
