// PciBus's uevents: what the kernel tells udev of each change, with the
// properties pci_uevent and the vfio core add.
#include "sim/sim_pci_bus.hpp"

#include <cstdio>

namespace vfiod::sim
{

namespace
{

std::string hexUpper(unsigned value, int width)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*X", width, value);
    return buf;
}

} // namespace

std::string devpathOf(const PciAddress& address)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "/devices/pci%04x:%02x/", address.domain,
                  unsigned{address.bus});
    return buf + address.str();
}

void PciBus::emitPci(const char* action, const Device& device,
                     const std::string& driver)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "pci";
    event.sysname = device.address.str();
    event.devpath = devpathOf(device.address);
    event.driver = driver;
    // What pci_uevent adds to every PCI event.
    event.properties["PCI_CLASS"] = hexUpper(device.classCode, 1);
    event.properties["PCI_ID"] =
        hexUpper(device.vendor, 4) + ":" + hexUpper(device.device, 4);
    event.properties["PCI_SUBSYS_ID"] =
        hexUpper(device.subvendor, 4) + ":" + hexUpper(device.subdevice, 4);
    event.properties["PCI_SLOT_NAME"] = event.sysname;
    event.properties["MODALIAS"] = modalias(device);
    events.push_back(std::move(event));
}

void PciBus::emitVfioGroup(const char* action, int group)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "vfio";
    event.sysname = std::to_string(group);
    event.devpath = "/devices/virtual/vfio/" + event.sysname;
    event.properties["DEVNAME"] = "vfio/" + event.sysname;
    events.push_back(std::move(event));
}

void PciBus::emitVfioDev(const char* action, const Device& device)
{
    Uevent event;
    event.seqnum = ++model.seqnum;
    event.action = action;
    event.subsystem = "vfio-dev";
    event.sysname = "vfio" + std::to_string(device.vfioDev);
    event.devpath = devpathOf(device.address) + "/vfio-dev/" + event.sysname;
    event.properties["DEVNAME"] = "vfio/devices/" + event.sysname;
    events.push_back(std::move(event));
}

} // namespace vfiod::sim
