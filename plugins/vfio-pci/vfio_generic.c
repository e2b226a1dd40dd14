#include "vfio_generic.h"

#include "vfio_uapi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int device_fd(const struct vfiod_host_services* host,
                     const struct vfiod_device* dev, int* fd, char* err,
                     size_t err_size)
{
    int ret = host->open_device(host->context, dev->address, fd);
    if (ret < 0)
    {
        snprintf(err, err_size, "cannot open the VFIO device of %s: %s",
                 dev->address, strerror(-ret));
    }
    return ret;
}

static int attr_path(char* buf, size_t size, const struct vfiod_device* dev,
                     const char* attr)
{
    int n = snprintf(buf, size, "bus/pci/devices/%s/%s", dev->address, attr);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* pci_reset_function through sysfs, narrowed to one method if asked and
 * restored afterwards, as vfiod's own reset does. */
static int sysfs_reset(const struct vfiod_host_services* host,
                       const struct vfiod_device* dev, const char* method,
                       char* err, size_t err_size)
{
    char reset[128], reset_method[128], old[256];
    if (attr_path(reset, sizeof reset, dev, "reset") < 0 ||
        attr_path(reset_method, sizeof reset_method, dev, "reset_method") < 0)
    {
        return -ENAMETOOLONG;
    }
    int have_old = 0;
    if (method[0] != '\0')
    {
        if (host->sysfs_read(host->context, reset_method, old, sizeof old) < 0)
        {
            snprintf(err, err_size, "%s has no reset_method", dev->address);
            return -EOPNOTSUPP;
        }
        old[strcspn(old, "\n")] = '\0';
        have_old = 1;
        int ret = host->sysfs_write(host->context, reset_method, method);
        if (ret < 0)
        {
            snprintf(err, err_size, "%s does not offer reset method %s",
                     dev->address, method);
            return -EOPNOTSUPP;
        }
    }
    int ret = host->sysfs_write(host->context, reset, "1");
    if (ret < 0)
    {
        snprintf(err, err_size, "reset of %s failed: %s", dev->address,
                 strerror(-ret));
    }
    if (have_old)
    {
        host->sysfs_write(host->context, reset_method,
                          old[0] != '\0' ? old : "default");
    }
    return ret;
}

int vfio_generic_reset(const struct vfiod_host_services* host,
                       const struct vfiod_device* dev, const char* method,
                       char* err, size_t err_size)
{
    /* A device vfiod holds open is reset through VFIO, which also puts its
     * migration state back to RUNNING; anything else through sysfs. */
    int fd = -1;
    if (method[0] == '\0' &&
        host->open_device(host->context, dev->address, &fd) == 0)
    {
        int ret = vfio_uapi_reset(vfio_uapi_ioctl, fd);
        if (ret < 0)
        {
            snprintf(err, err_size, "VFIO_DEVICE_RESET of %s: %s", dev->address,
                     strerror(-ret));
        }
        return ret;
    }
    return sysfs_reset(host, dev, method, err, err_size);
}

int vfio_generic_get_flags(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint64_t* flags,
                           char* err, size_t err_size)
{
    int fd;
    int ret = device_fd(host, dev, &fd, err, err_size);
    if (ret == 0)
    {
        ret = vfio_uapi_get_flags(vfio_uapi_ioctl, fd, flags);
        if (ret == -ENOTTY)
        {
            snprintf(err, err_size, "the driver of %s has no migration",
                     dev->address);
        }
    }
    return ret;
}

int vfio_generic_set_state(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint32_t state,
                           int* data_fd, char* err, size_t err_size)
{
    int fd;
    int ret = device_fd(host, dev, &fd, err, err_size);
    return ret == 0 ? vfio_uapi_set_state(vfio_uapi_ioctl, fd, state, data_fd)
                    : ret;
}

int vfio_generic_get_state(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint32_t* state,
                           char* err, size_t err_size)
{
    int fd;
    int ret = device_fd(host, dev, &fd, err, err_size);
    return ret == 0 ? vfio_uapi_get_state(vfio_uapi_ioctl, fd, state) : ret;
}

int vfio_generic_get_data_size(const struct vfiod_host_services* host,
                               const struct vfiod_device* dev,
                               uint64_t* stop_copy_length, char* err,
                               size_t err_size)
{
    int fd;
    int ret = device_fd(host, dev, &fd, err, err_size);
    return ret == 0
               ? vfio_uapi_get_data_size(vfio_uapi_ioctl, fd, stop_copy_length)
               : ret;
}

int vfio_generic_get_precopy_info(const struct vfiod_host_services* host,
                                  const struct vfiod_device* dev, int data_fd,
                                  uint64_t* initial_bytes,
                                  uint64_t* dirty_bytes, char* err,
                                  size_t err_size)
{
    (void)host;
    (void)dev;
    (void)err;
    (void)err_size;
    return vfio_uapi_get_precopy_info(vfio_uapi_ioctl, data_fd, initial_bytes,
                                      dirty_bytes);
}
