/*
 * vfio_open: opens a PCI device through VFIO's legacy container/group API,
 * as QEMU does, and reports each step on one line. Runs inside the e2e
 * guest only (tests/e2e): it proves that a device vfiod bound to vfio-pci
 * is really usable by a VMM.
 *
 * Usage: vfio_open [--hold] ADDRESS
 *   ADDRESS is the PCI address as in sysfs ("0000:02:00.0"); the group is
 *   read from /sys/bus/pci/devices/ADDRESS/iommu_group.
 *   --hold: after the "ok" line, keep the container, group and device open
 *   until a signal ends the process, as a running VMM does (a VMM vfiod did
 *   not start, for scenario 09).
 *
 * Exit status: 0 the device fd was obtained, 1 a step failed, 2 usage.
 * The last line printed is "vfio_open: ADDRESS ok ..." or
 * "vfio_open: ADDRESS FAILED <step>: <errno text>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char* address;

static int failed(const char* step)
{
    int saved = errno;
    printf("vfio_open: %s FAILED %s: %s\n", address, step, strerror(saved));
    return 1;
}

static int groupOf(const char* addr)
{
    char link[PATH_MAX];
    char target[PATH_MAX];
    snprintf(link, sizeof link, "/sys/bus/pci/devices/%s/iommu_group", addr);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
    {
        return -1;
    }
    target[n] = '\0';
    return atoi(basename(target));
}

int main(int argc, char** argv)
{
    int hold = argc == 3 && strcmp(argv[1], "--hold") == 0;
    if (argc != 2 + hold)
    {
        fprintf(stderr, "usage: vfio_open [--hold] ADDRESS\n");
        return 2;
    }
    address = argv[1 + hold];
    setvbuf(stdout, NULL, _IOLBF, 0);

    int group = groupOf(address);
    if (group < 0)
    {
        return failed("iommu_group");
    }

    int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0)
    {
        return failed("open /dev/vfio/vfio");
    }
    int api = ioctl(container, VFIO_GET_API_VERSION);
    if (api != VFIO_API_VERSION)
    {
        printf("vfio_open: %s FAILED VFIO_GET_API_VERSION: %d, expected %d\n",
               address, api, VFIO_API_VERSION);
        return 1;
    }
    if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0)
    {
        printf("vfio_open: %s FAILED VFIO_CHECK_EXTENSION: no type1\n",
               address);
        return 1;
    }

    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", group);
    int groupFd = open(path, O_RDWR | O_CLOEXEC);
    if (groupFd < 0)
    {
        return failed(path);
    }
    struct vfio_group_status status = {.argsz = sizeof status};
    if (ioctl(groupFd, VFIO_GROUP_GET_STATUS, &status) < 0)
    {
        return failed("VFIO_GROUP_GET_STATUS");
    }
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
    {
        printf("vfio_open: %s FAILED VFIO_GROUP_GET_STATUS: group %d not "
               "viable (flags 0x%x)\n",
               address, group, status.flags);
        return 1;
    }
    if (ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, &container) < 0)
    {
        return failed("VFIO_GROUP_SET_CONTAINER");
    }
    int iommu = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0
                    ? VFIO_TYPE1v2_IOMMU
                    : VFIO_TYPE1_IOMMU;
    if (ioctl(container, VFIO_SET_IOMMU, iommu) < 0)
    {
        return failed("VFIO_SET_IOMMU");
    }
    int device = ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, address);
    if (device < 0)
    {
        return failed("VFIO_GROUP_GET_DEVICE_FD");
    }
    struct vfio_device_info info = {.argsz = sizeof info};
    if (ioctl(device, VFIO_DEVICE_GET_INFO, &info) < 0)
    {
        return failed("VFIO_DEVICE_GET_INFO");
    }
    if (!(info.flags & VFIO_DEVICE_FLAGS_PCI))
    {
        printf("vfio_open: %s FAILED VFIO_DEVICE_GET_INFO: not a PCI device "
               "(flags 0x%x)\n",
               address, info.flags);
        return 1;
    }

    /* The vendor id through the config region, as a VMM reads it. */
    struct vfio_region_info config = {
        .argsz = sizeof config,
        .index = VFIO_PCI_CONFIG_REGION_INDEX,
    };
    if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &config) < 0)
    {
        return failed("VFIO_DEVICE_GET_REGION_INFO config");
    }
    unsigned short vendor = 0;
    if (pread(device, &vendor, sizeof vendor, (off_t)config.offset) !=
        (ssize_t)sizeof vendor)
    {
        return failed("config read");
    }

    printf("vfio_open: %s ok group=%d iommu=%s flags=0x%x regions=%u "
           "irqs=%u vendor=0x%04x reset=%s\n",
           address, group, iommu == VFIO_TYPE1v2_IOMMU ? "type1v2" : "type1",
           info.flags, info.num_regions, info.num_irqs, vendor,
           (info.flags & VFIO_DEVICE_FLAGS_RESET) ? "yes" : "no");
    while (hold)
    {
        pause(); /* the signal that ends the VMM closes everything */
    }
    close(device);
    close(groupFd);
    close(container);
    return 0;
}
