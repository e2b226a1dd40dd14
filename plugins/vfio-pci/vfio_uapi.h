/*
 * The VFIO migration uAPI v2 and device reset as plain C calls, each one
 * ioctl through a caller-supplied function, so tests drive this exact code
 * against a fake VFIO device. Shared by the vfio-pci and mlx5 plugins.
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef VFIOD_VFIO_UAPI_H
#define VFIOD_VFIO_UAPI_H

#include <stdint.h>

/* ioctl(2) semantics: -1 with errno set on failure. */
typedef int (*vfio_ioctl_fn)(int fd, unsigned long request, void* arg);

/* The real one. */
int vfio_uapi_ioctl(int fd, unsigned long request, void* arg);

/* VFIO_DEVICE_FEATURE GET MIGRATION: VFIO_MIGRATION_* flags. */
int vfio_uapi_get_flags(vfio_ioctl_fn io, int device_fd, uint64_t* flags);

/* VFIO_DEVICE_FEATURE SET MIG_DEVICE_STATE; *data_fd is -1 or the
 * stream's fd. */
int vfio_uapi_set_state(vfio_ioctl_fn io, int device_fd, uint32_t state,
                        int* data_fd);

/* VFIO_DEVICE_FEATURE GET MIG_DEVICE_STATE. */
int vfio_uapi_get_state(vfio_ioctl_fn io, int device_fd, uint32_t* state);

/* VFIO_DEVICE_FEATURE GET MIG_DATA_SIZE. */
int vfio_uapi_get_data_size(vfio_ioctl_fn io, int device_fd,
                            uint64_t* stop_copy_length);

/* VFIO_MIG_GET_PRECOPY_INFO on a data fd. */
int vfio_uapi_get_precopy_info(vfio_ioctl_fn io, int data_fd,
                               uint64_t* initial_bytes, uint64_t* dirty_bytes);

/* VFIO_DEVICE_RESET. */
int vfio_uapi_reset(vfio_ioctl_fn io, int device_fd);

#endif
