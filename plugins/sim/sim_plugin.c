/*
 * sim: the devices of vfiod's simulated host. The simulated kernel has no
 * VFIO device fds; its migration driver is reached through the device's
 * sim_migration_* attributes (core/sim/sim_migration.hpp), and the data fd
 * is sim_migration_data opened through the host. The plugin claims a
 * device when that driver is there, so on a real host it claims nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vfiod/plugin.h>

static const char* const state_names[] = {
    "ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
    "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

static int attr(char* buf, size_t size, const struct vfiod_device* dev,
                const char* name)
{
    int n = snprintf(buf, size, "bus/pci/devices/%s/sim_migration_%s",
                     dev->address, name);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static int read_number(const struct vfiod_host_services* host,
                       const struct vfiod_device* dev, const char* name,
                       uint64_t* value)
{
    char path[128], text[64];
    int ret = attr(path, sizeof path, dev, name);
    if (ret == 0)
    {
        ret = host->sysfs_read(host->context, path, text, sizeof text);
    }
    if (ret < 0)
    {
        return ret;
    }
    char* end = NULL;
    errno = 0;
    unsigned long long number = strtoull(text, &end, 10);
    if (errno != 0 || end == text)
    {
        return -EPROTO;
    }
    *value = number;
    return 0;
}

static int probe(const struct vfiod_host_services* host,
                 const struct vfiod_device* dev, char* err, size_t err_size)
{
    (void)err;
    (void)err_size;
    uint64_t flags = 0;
    return read_number(host, dev, "flags", &flags) == 0 && flags != 0
               ? VFIOD_PROBE_CLAIM
               : VFIOD_PROBE_DECLINE;
}

static int reset(const struct vfiod_host_services* host,
                 const struct vfiod_device* dev, const char* method, char* err,
                 size_t err_size)
{
    char path[128];
    snprintf(path, sizeof path, "bus/pci/devices/%s/reset_method",
             dev->address);
    if (method[0] != '\0')
    {
        int ret = host->sysfs_write(host->context, path, method);
        if (ret < 0)
        {
            snprintf(err, err_size, "reset method %s refused", method);
            return ret;
        }
    }
    snprintf(path, sizeof path, "bus/pci/devices/%s/reset", dev->address);
    int ret = host->sysfs_write(host->context, path, "1");
    if (method[0] != '\0')
    {
        snprintf(path, sizeof path, "bus/pci/devices/%s/reset_method",
                 dev->address);
        host->sysfs_write(host->context, path, "default");
    }
    return ret;
}

static int get_flags(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, uint64_t* flags, char* err,
                     size_t err_size)
{
    (void)err;
    (void)err_size;
    return read_number(host, dev, "flags", flags);
}

static int get_state(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, uint32_t* state, char* err,
                     size_t err_size)
{
    char path[128], text[32];
    int ret = attr(path, sizeof path, dev, "state");
    if (ret == 0)
    {
        ret = host->sysfs_read(host->context, path, text, sizeof text);
    }
    if (ret < 0)
    {
        return ret;
    }
    text[strcspn(text, "\n")] = '\0';
    for (uint32_t i = 0; i < sizeof state_names / sizeof state_names[0]; ++i)
    {
        if (strcmp(text, state_names[i]) == 0)
        {
            *state = i;
            return 0;
        }
    }
    snprintf(err, err_size, "unknown state \"%s\"", text);
    return -EPROTO;
}

/* The arcs on which the kernel hands out a data fd. */
static int opens_stream(uint32_t from, uint32_t to, int* flags)
{
    if ((from == VFIOD_MIG_STATE_RUNNING && to == VFIOD_MIG_STATE_PRE_COPY) ||
        (from == VFIOD_MIG_STATE_RUNNING_P2P &&
         to == VFIOD_MIG_STATE_PRE_COPY_P2P) ||
        (from == VFIOD_MIG_STATE_STOP && to == VFIOD_MIG_STATE_STOP_COPY))
    {
        *flags = O_RDONLY;
        return 1;
    }
    if (from == VFIOD_MIG_STATE_STOP && to == VFIOD_MIG_STATE_RESUMING)
    {
        *flags = O_WRONLY;
        return 1;
    }
    return 0;
}

static int set_state(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, uint32_t state,
                     int* data_fd, char* err, size_t err_size)
{
    *data_fd = -1;
    if (state >= sizeof state_names / sizeof state_names[0])
    {
        return -EINVAL;
    }
    uint32_t from = 0;
    int ret = get_state(host, dev, &from, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    char path[128];
    attr(path, sizeof path, dev, "state");
    ret = host->sysfs_write(host->context, path, state_names[state]);
    if (ret < 0)
    {
        snprintf(err, err_size, "%s -> %s: %s", state_names[from],
                 state_names[state], strerror(-ret));
        return ret;
    }
    int flags = 0;
    if (opens_stream(from, state, &flags))
    {
        attr(path, sizeof path, dev, "data");
        ret = host->sysfs_open(host->context, path, flags, data_fd);
        if (ret < 0)
        {
            snprintf(err, err_size, "cannot open the data stream: %s",
                     strerror(-ret));
        }
    }
    return ret;
}

static int get_data_size(const struct vfiod_host_services* host,
                         const struct vfiod_device* dev, uint64_t* length,
                         char* err, size_t err_size)
{
    (void)err;
    (void)err_size;
    return read_number(host, dev, "data_size", length);
}

/* The simulated data fd is a file: what is left of it is what pre-copy
 * has to offer, and nothing gets dirty in a simulated device. */
static int get_precopy_info(const struct vfiod_host_services* host,
                            const struct vfiod_device* dev, int data_fd,
                            uint64_t* initial, uint64_t* dirty, char* err,
                            size_t err_size)
{
    uint32_t state = 0;
    int ret = get_state(host, dev, &state, err, err_size);
    if (ret < 0)
    {
        return ret;
    }
    if (state != VFIOD_MIG_STATE_PRE_COPY &&
        state != VFIOD_MIG_STATE_PRE_COPY_P2P)
    {
        return -EINVAL; /* as VFIO_MIG_GET_PRECOPY_INFO outside pre-copy */
    }
    struct stat st;
    off_t at = lseek(data_fd, 0, SEEK_CUR);
    if (fstat(data_fd, &st) != 0 || at < 0)
    {
        return -errno;
    }
    *initial = st.st_size > at ? (uint64_t)(st.st_size - at) : 0;
    *dirty = 0;
    return 0;
}

static const struct vfiod_plugin_match matches[] = {
    {VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID,
     VFIOD_PLUGIN_ANY_ID, 0, 0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .probe = probe,
    .reset = reset,
    .migration_get_flags = get_flags,
    .migration_set_state = set_state,
    .migration_get_state = get_state,
    .migration_get_data_size = get_data_size,
    .migration_get_precopy_info = get_precopy_info,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = VFIOD_PLUGIN_ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct vfiod_plugin_descriptor),
    .name = "sim",
    .matches = matches,
    .match_count = sizeof matches / sizeof matches[0],
    .priority = 10,
    .ops = &ops,
};

const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
    return &descriptor;
}
