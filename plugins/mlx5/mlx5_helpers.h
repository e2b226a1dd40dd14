/* Pure helpers of the mlx5 plugin, unit-tested on their own. */
#ifndef VFIOD_MLX5_HELPERS_H
#define VFIOD_MLX5_HELPERS_H

#include <stddef.h>

/*
 * Finds the devlink port of VF vf_index of PF pf in the text output of
 * `devlink port show pci/<pf>`: the line
 *   pci/<pf>/<index>: type eth ... flavour pcivf controller 0 pfnum 0
 *   vfnum <vf_index> ...
 * of a local (not external) VF. Returns the port index, or -1.
 */
long mlx5_find_vf_port(const char* output, const char* pf, unsigned vf_index);

#endif
