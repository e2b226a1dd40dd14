/*
 * vfio-pci: the generic plugin. It matches every device at the lowest
 * priority, leaves the driver choice to vfiod (vfio-pci or the variant
 * modules.alias names), resets through sysfs or VFIO_DEVICE_RESET and
 * migrates through the kernel's VFIO migration uAPI v2.
 */
#include "vfio_generic.h"

static const struct vfiod_plugin_match matches[] = {
    {VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID,
     VFIOD_PLUGIN_ANY_ID, 0, 0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .reset = vfio_generic_reset,
    .migration_get_flags = vfio_generic_get_flags,
    .migration_set_state = vfio_generic_set_state,
    .migration_get_state = vfio_generic_get_state,
    .migration_get_data_size = vfio_generic_get_data_size,
    .migration_get_precopy_info = vfio_generic_get_precopy_info,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = VFIOD_PLUGIN_ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct vfiod_plugin_descriptor),
    .name = "vfio-pci",
    .matches = matches,
    .match_count = sizeof matches / sizeof matches[0],
    .priority = 0,
    .ops = &ops,
};

const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
    return &descriptor;
}
