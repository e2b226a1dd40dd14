#include "vfio_uapi.h"

#include "vfio_uapi_defs.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

int vfio_uapi_ioctl(int fd, unsigned long request, void* arg)
{
    return ioctl(fd, request, arg);
}

/* struct vfio_device_feature (argsz, flags, data[]) with a payload of up
 * to 16 bytes, in u64 storage: the payload is 8-aligned as the kernel
 * expects. */
static int feature(vfio_ioctl_fn io, int fd, uint32_t flags, void* payload,
                   size_t size)
{
    uint64_t buf[3];
    struct vfio_device_feature* header = (struct vfio_device_feature*)buf;
    memset(buf, 0, sizeof buf);
    header->argsz = (uint32_t)(sizeof *header + size);
    header->flags = flags;
    memcpy(header->data, payload, size);
    if (io(fd, VFIO_DEVICE_FEATURE, buf) != 0)
    {
        return errno > 0 ? -errno : -EIO;
    }
    memcpy(payload, header->data, size);
    return 0;
}

int vfio_uapi_get_flags(vfio_ioctl_fn io, int device_fd, uint64_t* flags)
{
    struct vfio_device_feature_migration mig;
    memset(&mig, 0, sizeof mig);
    int ret = feature(io, device_fd,
                      VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
                      &mig, sizeof mig);
    if (ret == 0)
    {
        *flags = mig.flags;
    }
    return ret;
}

int vfio_uapi_set_state(vfio_ioctl_fn io, int device_fd, uint32_t state,
                        int* data_fd)
{
    struct vfio_device_feature_mig_state mig;
    memset(&mig, 0, sizeof mig);
    mig.device_state = state;
    mig.data_fd = -1;
    *data_fd = -1;
    int ret =
        feature(io, device_fd,
                VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                &mig, sizeof mig);
    if (ret == 0)
    {
        *data_fd = mig.data_fd;
    }
    return ret;
}

int vfio_uapi_get_state(vfio_ioctl_fn io, int device_fd, uint32_t* state)
{
    struct vfio_device_feature_mig_state mig;
    memset(&mig, 0, sizeof mig);
    int ret =
        feature(io, device_fd,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                &mig, sizeof mig);
    if (ret == 0)
    {
        *state = mig.device_state;
    }
    return ret;
}

int vfio_uapi_get_data_size(vfio_ioctl_fn io, int device_fd,
                            uint64_t* stop_copy_length)
{
    struct vfio_device_feature_mig_data_size size;
    memset(&size, 0, sizeof size);
    int ret =
        feature(io, device_fd,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
                &size, sizeof size);
    if (ret == 0)
    {
        *stop_copy_length = size.stop_copy_length;
    }
    return ret;
}

int vfio_uapi_get_precopy_info(vfio_ioctl_fn io, int data_fd,
                               uint64_t* initial_bytes, uint64_t* dirty_bytes)
{
    struct vfio_precopy_info info;
    memset(&info, 0, sizeof info);
    info.argsz = sizeof info;
    if (io(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info) != 0)
    {
        return errno > 0 ? -errno : -EIO;
    }
    *initial_bytes = info.initial_bytes;
    *dirty_bytes = info.dirty_bytes;
    return 0;
}

int vfio_uapi_reset(vfio_ioctl_fn io, int device_fd)
{
    if (io(device_fd, VFIO_DEVICE_RESET, NULL) != 0)
    {
        return errno > 0 ? -errno : -EIO;
    }
    return 0;
}
