/*
 * The generic VFIO ops: reset through sysfs or VFIO_DEVICE_RESET, and
 * migration through the uAPI v2 on the device fd vfiod opens for the
 * plugin. The vfio-pci plugin is made of these; vendor plugins whose
 * kernel driver speaks the standard uAPI (mlx5_vfio_pci) reuse them.
 */
#ifndef VFIOD_VFIO_GENERIC_H
#define VFIOD_VFIO_GENERIC_H

#include <vfiod/plugin.h>

int vfio_generic_reset(const struct vfiod_host_services* host,
                       const struct vfiod_device* dev, const char* method,
                       char* err, size_t err_size);
int vfio_generic_get_flags(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint64_t* flags,
                           char* err, size_t err_size);
int vfio_generic_set_state(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint32_t state,
                           int* data_fd, char* err, size_t err_size);
int vfio_generic_get_state(const struct vfiod_host_services* host,
                           const struct vfiod_device* dev, uint32_t* state,
                           char* err, size_t err_size);
int vfio_generic_get_data_size(const struct vfiod_host_services* host,
                               const struct vfiod_device* dev,
                               uint64_t* stop_copy_length, char* err,
                               size_t err_size);
int vfio_generic_get_precopy_info(const struct vfiod_host_services* host,
                                  const struct vfiod_device* dev, int data_fd,
                                  uint64_t* initial_bytes,
                                  uint64_t* dirty_bytes, char* err,
                                  size_t err_size);

#endif
