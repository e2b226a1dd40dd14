#pragma once

#include "bus_client.hpp"
#include "json_writer.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace vfioctl
{

/**
 * @brief A table printed with its columns aligned, headers in capitals.
 *
 * Widths count bytes: every cell vfioctl prints is ASCII (addresses, ids,
 * driver names, bus names).
 */
class Table
{
  public:
    explicit Table(std::vector<std::string> headers);

    /** @brief Adds a row; it must have one cell per header. */
    void addRow(std::vector<std::string> cells);

    /** @brief Prints header and rows; the last column is not padded. */
    void print(std::ostream& out) const;

  private:
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

/**
 * @brief Writes a D-Bus value as JSON: numbers as numbers, booleans,
 * strings and object paths as strings, arrays and dicts by their elements.
 * Types org.vfiod1 does not use (structs, fds, nested variants) become
 * null rather than a guess.
 */
void writeJsonValue(JsonWriter& json, const sdbus::Variant& value);

/**
 * @brief A device as JSON: {"ObjectPath": ..., <property>: <value>, ...}
 * with the D-Bus property names as keys, so a property added to the API
 * shows up without a vfioctl change.
 */
void writeDeviceJson(JsonWriter& json, const std::string& path,
                     const PropertyMap& properties);

/**
 * @brief A property value for people: ids in hex as lspci prints them,
 * lists joined by ", ", and "" where a value is absent.
 */
std::string formatProperty(const std::string& name,
                           const sdbus::Variant& value);

/** @brief A string property, "" when missing or of another type. */
std::string stringProperty(const PropertyMap& properties,
                           const std::string& name);

/** @brief The table of `vfioctl list`. */
void printDeviceTable(std::ostream& out,
                      const std::vector<DeviceEntry>& devices);

/** @brief Every property of one device, one labelled line each. */
void printDeviceDetails(std::ostream& out, const PropertyMap& properties);

/** @brief "driver vfio-pci, state vfio", for confirming an operation. */
std::string deviceSummary(const PropertyMap& properties);

} // namespace vfioctl
