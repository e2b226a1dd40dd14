/*
 * uAPI definitions newer than some distributions' linux/vfio.h: PRE_COPY,
 * VFIO_MIG_GET_PRECOPY_INFO (Linux 6.2) and the MIG_DATA_SIZE feature
 * (6.2), with the kernel's numbers. Newer headers declare the states and
 * flags as enum members, so they are only defined here when the macro
 * that arrived with them is missing.
 */
#ifndef VFIOD_VFIO_UAPI_DEFS_H
#define VFIOD_VFIO_UAPI_DEFS_H

#include <linux/vfio.h>

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
struct vfio_device_feature_mig_data_size
{
    __aligned_u64 stop_copy_length;
};
#endif

#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info
{
    __u32 argsz;
    __u32 flags;
    __aligned_u64 initial_bytes;
    __aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY 6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P 7
#endif

#endif
