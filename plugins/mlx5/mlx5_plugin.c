/*
 * mlx5: NVIDIA/Mellanox ConnectX VFs for live migration.
 *
 * Matches what the kernel's mlx5_vfio_pci binds (its id table:
 * PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_MELLANOX, 0x101e), the
 * "ConnectX Family mlx5Gen Virtual Function" of ConnectX-6 Dx, ConnectX-7
 * and later) and chooses that driver. A VF can only migrate once its
 * "migratable" capability is enabled on the PF's eswitch, which the
 * firmware accepts only while no driver uses the VF. So before the bind:
 *
 *   1. the PF is the VF's physfn link, the VF index the N of the PF's
 *      virtfnN link that points back at the VF;
 *   2. the VF is unbound from mlx5_core (bus/pci/drivers/mlx5_core/unbind);
 *   3. `devlink port show pci/<PF>` names the VF's port (flavour pcivf,
 *      vfnum N); when the eswitch is in legacy mode there are no VF ports,
 *      and `devlink dev eswitch set pci/<PF> mode switchdev` creates them;
 *   4. `devlink port function set pci/<PF>/<port> migratable enable`.
 *
 * devlink runs as the host's "devlink" helper (its path is configured in
 * vfiod.toml). Migration and reset then go through the standard VFIO uAPI,
 * which mlx5_vfio_pci implements with STOP_COPY, P2P and PRE_COPY.
 */
#include "mlx5_helpers.h"
#include "vfio_generic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MLX5_VFIO_DRIVER "mlx5_vfio_pci"

static int find_pf(const struct vfiod_host_services* host,
                   const struct vfiod_device* dev, char* pf, size_t size,
                   unsigned* vf_index, char* err, size_t err_size)
{
    char path[128], name[64];
    snprintf(path, sizeof path, "bus/pci/devices/%s/physfn", dev->address);
    if (host->sysfs_readlink(host->context, path, pf, size) < 0)
    {
        snprintf(err, err_size, "%s is not a VF (no physfn)", dev->address);
        return -ENODEV;
    }
    for (unsigned i = 0; i < 4096; ++i)
    {
        snprintf(path, sizeof path, "bus/pci/devices/%s/virtfn%u", pf, i);
        if (host->sysfs_readlink(host->context, path, name, sizeof name) < 0)
        {
            break;
        }
        if (strcmp(name, dev->address) == 0)
        {
            *vf_index = i;
            return 0;
        }
    }
    snprintf(err, err_size, "%s is not among the VFs of %s", dev->address, pf);
    return -ENODEV;
}

/* Runs devlink with args; output receives what it printed. */
static int devlink(const struct vfiod_host_services* host,
                   const char* const* args, char* output, size_t output_size,
                   char* err, size_t err_size)
{
    int status =
        host->run_helper(host->context, "devlink", args, output, output_size);
    if (status < 0)
    {
        snprintf(err, err_size, "cannot run devlink: %s", strerror(-status));
        return status;
    }
    if (status != 0)
    {
        output[strcspn(output, "\n")] = '\0';
        snprintf(err, err_size, "devlink %s %s failed (exit %d): %s", args[0],
                 args[1], status, output);
        return -EIO;
    }
    return 0;
}

static long vf_port(const struct vfiod_host_services* host, const char* pf,
                    unsigned vf_index, char* err, size_t err_size)
{
    char handle[80], output[8192];
    snprintf(handle, sizeof handle, "pci/%s", pf);
    const char* show[] = {"port", "show", handle, NULL};
    int ret = devlink(host, show, output, sizeof output, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    long port = mlx5_find_vf_port(output, pf, vf_index);
    if (port >= 0)
    {
        return port;
    }
    /* Legacy eswitch mode has no VF ports: switchdev creates them. */
    const char* mode[] = {"dev",  "eswitch",   "set", handle,
                          "mode", "switchdev", NULL};
    ret = devlink(host, mode, output, sizeof output, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    ret = devlink(host, show, output, sizeof output, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    port = mlx5_find_vf_port(output, pf, vf_index);
    if (port < 0)
    {
        snprintf(err, err_size, "devlink shows no port for VF %u of %s",
                 vf_index, pf);
        return -ENODEV;
    }
    return port;
}

static int prepare_bind(const struct vfiod_host_services* host,
                        const struct vfiod_device* dev, const char* driver,
                        char* err, size_t err_size)
{
    if (strcmp(driver, MLX5_VFIO_DRIVER) != 0)
    {
        return 0; /* plain vfio-pci: nothing to migrate, nothing to do */
    }
    char pf[64];
    unsigned vf_index = 0;
    int ret = find_pf(host, dev, pf, sizeof pf, &vf_index, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    if (strcmp(dev->driver, "mlx5_core") == 0)
    {
        ret = host->sysfs_write(
            host->context, "bus/pci/drivers/mlx5_core/unbind", dev->address);
        if (ret < 0)
        {
            snprintf(err, err_size, "cannot unbind %s from mlx5_core: %s",
                     dev->address, strerror(-ret));
            return ret;
        }
    }
    long port = vf_port(host, pf, vf_index, err, err_size);
    if (port < 0)
    {
        return (int)port;
    }
    char function[96], output[4096];
    snprintf(function, sizeof function, "pci/%s/%ld", pf, port);
    const char* set[] = {"port",       "function", "set", function,
                         "migratable", "enable",   NULL};
    ret = devlink(host, set, output, sizeof output, err, err_size);
    if (ret == 0)
    {
        host->log(host->context, VFIOD_LOG_INFO,
                  "enabled migration of %s (VF %u of %s, devlink port %ld)",
                  dev->address, vf_index, pf, port);
    }
    return ret;
}

static int choose_driver(const struct vfiod_host_services* host,
                         const struct vfiod_device* dev, char* driver,
                         size_t driver_size, char* err, size_t err_size)
{
    (void)host;
    (void)dev;
    (void)err;
    (void)err_size;
    snprintf(driver, driver_size, "%s", MLX5_VFIO_DRIVER);
    return 0;
}

static const struct vfiod_plugin_match matches[] = {
    {0x15b3, 0x101e, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, 0, 0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .choose_driver = choose_driver,
    .prepare_bind = prepare_bind,
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
    .name = "mlx5",
    .matches = matches,
    .match_count = sizeof matches / sizeof matches[0],
    .priority = 50,
    .ops = &ops,
};

const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
    return &descriptor;
}
