/*
 * A plugin whose reset op behaves by the device's function number, for
 * the op-call tests: .0 succeeds, .1 hangs (until the test opens and
 * closes the FIFO named by $VFIOD_TEST_OPS_GATE for writing, or for 2 s
 * without it), .2 fails with a
 * reason, .3 writes a positive value nobody asked for. Its choose_driver
 * names vfio-pci; its probe declines devices with device id 0xdead.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vfiod/plugin.h>

static int probe(const struct vfiod_host_services* host,
                 const struct vfiod_device* dev, char* err, size_t err_size)
{
    (void)host;
    (void)err;
    (void)err_size;
    return dev->device == 0xdead ? VFIOD_PROBE_DECLINE : VFIOD_PROBE_CLAIM;
}

static int choose_driver(const struct vfiod_host_services* host,
                         const struct vfiod_device* dev, char* driver,
                         size_t size, char* err, size_t err_size)
{
    (void)host;
    (void)dev;
    (void)err;
    (void)err_size;
    snprintf(driver, size, "vfio-pci");
    return 0;
}

static int reset(const struct vfiod_host_services* host,
                 const struct vfiod_device* dev, const char* method, char* err,
                 size_t err_size)
{
    (void)method;
    char function = dev->address[strlen(dev->address) - 1];
    if (function == '1')
    {
        const char* gate = getenv("VFIOD_TEST_OPS_GATE");
        int fd = gate != NULL ? open(gate, O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0)
        {
            /* Until the test's writer has come and gone. */
            char byte;
            while (read(fd, &byte, 1) > 0)
            {}
            close(fd);
            return 0;
        }
        struct timespec delay = {2, 0};
        nanosleep(&delay, NULL);
        return 0;
    }
    if (function == '2')
    {
        snprintf(err, err_size, "firmware refused the reset");
        return -EIO;
    }
    if (function == '3')
    {
        return 7;
    }
    host->log(host->context, VFIOD_LOG_INFO, "reset %s", dev->address);
    return 0;
}

static const struct vfiod_plugin_match matches[] = {
    {0xabcd, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, 0,
     0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .probe = probe,
    .choose_driver = choose_driver,
    .reset = reset,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = VFIOD_PLUGIN_ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct vfiod_plugin_descriptor),
    .name = "ops",
    .matches = matches,
    .match_count = 1,
    .priority = 100,
    .ops = &ops,
};

const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
    return &descriptor;
}
