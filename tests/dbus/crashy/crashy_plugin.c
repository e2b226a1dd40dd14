/*
 * A plugin that crashes vfiod, for the quarantine tests: its probe
 * aborts on the device whose address is in $VFIOD_TEST_CRASH_PROBE, and
 * its entry aborts when $VFIOD_TEST_CRASH_LOAD is set; otherwise it
 * claims every device and does nothing else (vfiod's own sequences run).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <vfiod/plugin.h>

static int probe(const struct vfiod_host_services* host,
                 const struct vfiod_device* dev, char* err, size_t err_size)
{
    (void)host;
    (void)err;
    (void)err_size;
    const char* crash = getenv("VFIOD_TEST_CRASH_PROBE");
    if (crash != NULL && strcmp(crash, dev->address) == 0)
    {
        abort();
    }
    return VFIOD_PROBE_CLAIM;
}

static const struct vfiod_plugin_match matches[] = {
    {VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID,
     VFIOD_PLUGIN_ANY_ID, 0, 0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = sizeof(struct vfiod_plugin_ops),
    .probe = probe,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = VFIOD_PLUGIN_ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct vfiod_plugin_descriptor),
    .name = "crashy",
    .matches = matches,
    .match_count = 1,
    .priority = 0,
    .ops = &ops,
};

const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
    if (getenv("VFIOD_TEST_CRASH_LOAD") != NULL)
    {
        abort();
    }
    return &descriptor;
}
