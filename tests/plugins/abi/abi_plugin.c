/*
 * One small plugin, built once per ABI case by meson.build with -D
 * switches: a good one, and each way a plugin gets refused.
 */
#include <vfiod/plugin.h>

#ifndef ABI_MAJOR
#define ABI_MAJOR VFIOD_PLUGIN_ABI_MAJOR
#endif
#ifndef DESC_SIZE
#define DESC_SIZE sizeof(struct vfiod_plugin_descriptor)
#endif
#ifndef OPS_SIZE
#define OPS_SIZE sizeof(struct vfiod_plugin_ops)
#endif
#ifdef NO_NAME
#define PLUGIN_NAME NULL
#endif

#ifdef UNLOADABLE
/* Resolved nowhere: dlopen(RTLD_NOW) fails. */
extern int vfiod_test_symbol_that_does_not_exist(void);
int vfiod_test_use_it(void);
int vfiod_test_use_it(void)
{
    return vfiod_test_symbol_that_does_not_exist();
}
#endif

static const struct vfiod_plugin_match matches[] = {
    {0xabcd, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, VFIOD_PLUGIN_ANY_ID, 0,
     0},
};

static const struct vfiod_plugin_ops ops = {
    .struct_size = OPS_SIZE,
};

static const struct vfiod_plugin_descriptor descriptor = {
    .abi_major = ABI_MAJOR,
    .abi_minor = VFIOD_PLUGIN_ABI_MINOR,
    .struct_size = DESC_SIZE,
    .name = PLUGIN_NAME,
    .matches = matches,
    .match_count = 1,
    .priority = 1,
    .ops = &ops,
};

#ifdef NO_ENTRY
const struct vfiod_plugin_descriptor* vfiod_plugin_entry_misspelled(void);
const struct vfiod_plugin_descriptor* vfiod_plugin_entry_misspelled(void)
{
    return &descriptor;
}
#else
const struct vfiod_plugin_descriptor*
    vfiod_plugin_entry(const struct vfiod_host_services* host)
{
    (void)host;
#ifdef NULL_ENTRY
    (void)&descriptor;
    return NULL;
#else
    return &descriptor;
#endif
}
#endif
