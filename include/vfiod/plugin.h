/*
 * vfiod plugin ABI, version 1.0.
 *
 * A vfiod plugin is a shared object that exports one function,
 * vfiod_plugin_entry, returning a descriptor: the plugin's name, the
 * devices it may handle, a priority and a table of operations. Everything
 * the plugin needs from the system (sysfs, the VFIO device, helper
 * programs, logging) it asks the daemon for through the host-services
 * table, so the same plugin runs unchanged on a real host, on sysfs test
 * trees and on vfiod's simulated host. See vfiod-plugin(7).
 *
 * Compatibility rules: structures only grow by appending members, and each
 * carries its size (struct_size) so either side can tell which members the
 * other knows. A change that is not an append bumps the major version;
 * vfiod refuses plugins built for another major version.
 *
 * Pure C11; no part of vfiod is linked into a plugin.
 */
#ifndef VFIOD_PLUGIN_H
#define VFIOD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define VFIOD_PLUGIN_ABI_MAJOR 1
#define VFIOD_PLUGIN_ABI_MINOR 0

/* The one symbol vfiod looks up in a plugin. */
#define VFIOD_PLUGIN_ENTRY_SYMBOL "vfiod_plugin_entry"

/* Wildcard for the id fields of struct vfiod_plugin_match (PCI_ANY_ID). */
#define VFIOD_PLUGIN_ANY_ID 0xffffffffu

/* Log levels, as syslog(3) numbers them. */
#define VFIOD_LOG_ERR 3
#define VFIOD_LOG_WARNING 4
#define VFIOD_LOG_INFO 6
#define VFIOD_LOG_DEBUG 7

/* VFIO migration states: enum vfio_device_mig_state of linux/vfio.h. */
#define VFIOD_MIG_STATE_ERROR 0u
#define VFIOD_MIG_STATE_STOP 1u
#define VFIOD_MIG_STATE_RUNNING 2u
#define VFIOD_MIG_STATE_STOP_COPY 3u
#define VFIOD_MIG_STATE_RESUMING 4u
#define VFIOD_MIG_STATE_RUNNING_P2P 5u
#define VFIOD_MIG_STATE_PRE_COPY 6u
#define VFIOD_MIG_STATE_PRE_COPY_P2P 7u

/* VFIO migration flags: VFIO_MIGRATION_* of linux/vfio.h. */
#define VFIOD_MIG_FLAG_STOP_COPY (1u << 0)
#define VFIOD_MIG_FLAG_P2P (1u << 1)
#define VFIOD_MIG_FLAG_PRE_COPY (1u << 2)

/* probe() answers. */
#define VFIOD_PROBE_DECLINE 0
#define VFIOD_PROBE_CLAIM 1

    /*
     * One entry of a match table, like the kernel's struct pci_device_id: a
     * device matches when every id is VFIOD_PLUGIN_ANY_ID or equal, and
     * (class & class_mask) == class_code (a zero mask matches any class).
     */
    struct vfiod_plugin_match
    {
        uint32_t vendor;
        uint32_t device;
        uint32_t subsystem_vendor;
        uint32_t subsystem_device;
        uint32_t class_code; /* 24 bits: base class, subclass, prog-if */
        uint32_t class_mask;
    };

    /*
     * The device an operation is about, read from sysfs by vfiod just before
     * the call. Valid for the duration of the call only.
     */
    struct vfiod_device
    {
        size_t struct_size;
        const char* address; /* "0000:03:00.0" */
        uint32_t vendor;
        uint32_t device;
        uint32_t subsystem_vendor;
        uint32_t subsystem_device;
        uint32_t class_code;
        const char* driver; /* bound driver, "" when unbound */
    };

    /*
     * What vfiod offers a plugin. Every function takes the table's context
     * first and returns 0 (or a length) on success, a negative errno on
     * failure. Paths are relative to the daemon's sysfs root
     * ("bus/pci/devices/0000:03:00.0/reset_method"); absolute paths, empty
     * components and ".." are refused with -EINVAL.
     */
    struct vfiod_host_services
    {
        size_t struct_size;
        uint32_t abi_major;
        uint32_t abi_minor;
        void* context; /* opaque; pass it back to every function below */

        /* One log line, printf-style, without a trailing newline. */
        void (*log)(void* context, int level, const char* format, ...)
#if defined(__GNUC__)
            __attribute__((format(printf, 3, 4)))
#endif
            ;

        /*
         * Reads a sysfs attribute into buf (NUL-terminated, truncated to
         * size - 1). Returns the length read or -errno (-ENOENT: no such
         * file).
         */
        int (*sysfs_read)(void* context, const char* path, char* buf,
                          size_t size);

        /* Writes value to a sysfs attribute in one write(2). */
        int (*sysfs_write)(void* context, const char* path, const char* value);

        /*
         * The last component of a sysfs symlink's target ("0000:04:00.0" for
         * physfn), NUL-terminated into buf. -ENOENT when there is no link.
         */
        int (*sysfs_readlink)(void* context, const char* path, char* buf,
                              size_t size);

        /*
         * Opens a sysfs attribute with open(2) flags (O_CLOEXEC is added).
         * The descriptor belongs to the plugin, which closes it.
         */
        int (*sysfs_open)(void* context, const char* path, int flags, int* fd);

        /*
         * The VFIO device file descriptor of a device bound to a vfio driver
         * (what VFIO_GROUP_GET_DEVICE_FD gives). The descriptor is borrowed:
         * vfiod owns it, keeps it open across calls (closing a VFIO device
         * resets its migration state) and closes it when it lets go of the
         * device. The simulated host has no VFIO devices and answers
         * -EOPNOTSUPP; its devices are reached through sysfs attributes.
         */
        int (*open_device)(void* context, const char* address, int* fd);

        /*
         * Runs a helper program by name ("devlink"): vfiod maps the name to a
         * path from its configuration and runs it without a shell, with argv
         * (NULL-terminated, program name excluded) as arguments. What it writes
         * to standard output and standard error goes into output
         * (NUL-terminated, truncated). Returns the exit
         * status (0..255), or -errno when it could not run (-ENOENT: helper
         * not configured or not found).
         */
        int (*run_helper)(void* context, const char* helper,
                          const char* const* argv, char* output,
                          size_t output_size);
    };

    /*
     * The operations of a plugin. Every operation is optional (NULL: not
     * implemented; vfiod then does the generic thing or reports "not
     * supported"). Each returns 0 on success or a negative errno, and may
     * write a one-line reason for a failure into err (err_size bytes,
     * NUL-terminated). Operations may block; vfiod runs them with a timeout.
     */
    struct vfiod_plugin_ops
    {
        size_t struct_size; /* sizeof(struct vfiod_plugin_ops) */

        /* Whether the plugin handles a device its match table selected:
         * VFIOD_PROBE_CLAIM, VFIOD_PROBE_DECLINE or -errno. NULL: claim. */
        int (*probe)(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, char* err,
                     size_t err_size);

        /* The driver to bind for passthrough ("mlx5_vfio_pci"), written to
         * driver (driver_size bytes); "" leaves the choice to vfiod. */
        int (*choose_driver)(const struct vfiod_host_services* host,
                             const struct vfiod_device* dev, char* driver,
                             size_t driver_size, char* err, size_t err_size);

        /* Before vfiod unbinds the device to bind it to driver. A failure
         * stops the bind before anything changed. */
        int (*prepare_bind)(const struct vfiod_host_services* host,
                            const struct vfiod_device* dev, const char* driver,
                            char* err, size_t err_size);
        /* After the bind, with its result (0 or -errno). */
        int (*cleanup_bind)(const struct vfiod_host_services* host,
                            const struct vfiod_device* dev, const char* driver,
                            int result, char* err, size_t err_size);

        /* Before and after the device is handed to a VM (assign). */
        int (*prepare_assign)(const struct vfiod_host_services* host,
                              const struct vfiod_device* dev, char* err,
                              size_t err_size);
        int (*cleanup_assign)(const struct vfiod_host_services* host,
                              const struct vfiod_device* dev, int result,
                              char* err, size_t err_size);

        /* Resets the function; method is a reset_method name ("flr", "bus")
         * or "" for the device's default. */
        int (*reset)(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, const char* method,
                     char* err, size_t err_size);

        /* VFIO_DEVICE_FEATURE_MIGRATION: VFIOD_MIG_FLAG_* bits. */
        int (*migration_get_flags)(const struct vfiod_host_services* host,
                                   const struct vfiod_device* dev,
                                   uint64_t* flags, char* err, size_t err_size);

        /*
         * Moves the device along ONE arc of the VFIO state machine to state
         * (vfiod walks multi-arc requests itself and never asks for a blocked
         * arc). On RUNNING->PRE_COPY, RUNNING_P2P->PRE_COPY_P2P,
         * STOP->STOP_COPY and STOP->RESUMING, *data_fd receives the migration
         * data descriptor, owned by vfiod from then on; otherwise -1.
         */
        int (*migration_set_state)(const struct vfiod_host_services* host,
                                   const struct vfiod_device* dev,
                                   uint32_t state, int* data_fd, char* err,
                                   size_t err_size);

        /* The current VFIOD_MIG_STATE_*. */
        int (*migration_get_state)(const struct vfiod_host_services* host,
                                   const struct vfiod_device* dev,
                                   uint32_t* state, char* err, size_t err_size);

        /* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: estimated stop-copy bytes. */
        int (*migration_get_data_size)(const struct vfiod_host_services* host,
                                       const struct vfiod_device* dev,
                                       uint64_t* stop_copy_length, char* err,
                                       size_t err_size);

        /* VFIO_MIG_GET_PRECOPY_INFO on data_fd, in PRE_COPY(_P2P) only. */
        int (*migration_get_precopy_info)(
            const struct vfiod_host_services* host,
            const struct vfiod_device* dev, int data_fd,
            uint64_t* initial_bytes, uint64_t* dirty_bytes, char* err,
            size_t err_size);
    };

    /*
     * What vfiod_plugin_entry returns: static data that stays valid while the
     * plugin is loaded.
     */
    struct vfiod_plugin_descriptor
    {
        uint32_t abi_major; /* VFIOD_PLUGIN_ABI_MAJOR */
        uint32_t abi_minor; /* VFIOD_PLUGIN_ABI_MINOR */
        size_t struct_size; /* sizeof(struct vfiod_plugin_descriptor) */
        const char* name;   /* unique, e.g. "mlx5" */
        const struct vfiod_plugin_match* matches;
        size_t match_count;
        /* Among matching plugins the highest priority wins; the generic
         * vfio-pci plugin has priority 0. */
        int32_t priority;
        const struct vfiod_plugin_ops* ops;
    };

    /*
     * The entry point, called once when vfiod loads the plugin. host stays
     * valid while the plugin is loaded and is passed again to every op.
     * Returning NULL refuses to load (log why through host->log first).
     */
    typedef const struct vfiod_plugin_descriptor* (*vfiod_plugin_entry_fn)(
        const struct vfiod_host_services* host);

#if defined(__GNUC__)
#define VFIOD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define VFIOD_PLUGIN_EXPORT
#endif

    VFIOD_PLUGIN_EXPORT const struct vfiod_plugin_descriptor*
        vfiod_plugin_entry(const struct vfiod_host_services* host);

#ifdef __cplusplus
}
#endif

#endif /* VFIOD_PLUGIN_H */
