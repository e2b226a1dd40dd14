/*
 * A plugin for the core service's tests, on vendor 0x1d0f devices. Every op
 * it implements says so through host->log ("prepare_bind ADDR DRIVER",
 * "cleanup_bind ADDR RESULT", ...), so a test follows the order of events
 * without a clock. Device 0xfa11 refuses prepare_bind. Device 0x6a7e's
 * prepare_bind logs "gate entered ADDR", then waits for the test to open
 * the FIFO named by VFIOD_TEST_GATE for writing and close it: a plugin
 * that blocks as long as the test wants, and not a moment longer.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <vfiod/plugin.h>

static void wait_for_gate(void)
{
    const char* gate = getenv("VFIOD_TEST_GATE");
    if (gate == NULL)
    {
        return;
    }
    int fd = open(gate, O_RDONLY | O_CLOEXEC); /* blocks until a writer */
    if (fd < 0)
    {
        return;
    }
    char buf[16];
    while (read(fd, buf, sizeof buf) > 0)
    {}
    close(fd);
}

static int prepare_bind(const struct vfiod_host_services* host,
                        const struct vfiod_device* dev, const char* driver,
                        char* err, size_t err_size)
{
    host->log(host->context, VFIOD_LOG_INFO, "prepare_bind %s %s", dev->address,
              driver);
    if (dev->device == 0xfa11)
    {
        snprintf(err, err_size, "the firmware refused");
        return -EIO;
    }
    if (dev->device == 0x6a7e)
    {
        host->log(host->context, VFIOD_LOG_INFO, "gate entered %s",
                  dev->address);
        wait_for_gate();
        host->log(host->context, VFIOD_LOG_INFO, "gate left %s", dev->address);
    }
    return 0;
}

static int cleanup_bind(const struct vfiod_host_services* host,
                        const struct vfiod_device* dev, const char* driver,
                        int result, char* err, size_t err_size)
{
    (void)driver;
    (void)err;
    (void)err_size;
    host->log(host->context, VFIOD_LOG_INFO, "cleanup_bind %s %d", dev->address,
              result);
    return 0;
}

static int prepare_assign(const struct vfiod_host_services* host,
                          const struct vfiod_device* dev, char* err,
                          size_t err_size)
{
    (void)err;
    (void)err_size;
    host->log(host->context, VFIOD_LOG_INFO, "prepare_assign %s", dev->address);
    return 0;
}

static int cleanup_assign(const struct vfiod_host_services* host,
                          const struct vfiod_device* dev, int result, char* err,
                          size_t err_size)
{
    (void)err;
    (void)err_size;
    host->log(host->context, VFIOD_LOG_INFO, "cleanup_assign %s %d",
              dev->address, result);
    return 0;
}

static const struct vfiod_plugin_match matches[] = {
    {0x1d0f, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, 0,
     0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .prepare_bind = prepare_bind,
    .cleanup_bind = cleanup_bind,
    .prepare_assign = prepare_assign,
    .cleanup_assign = cleanup_assign,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = VFIOD_PLUGIN_ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct vfiod_plugin_descriptor),
    .name = "gate",
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
