#include "mlx5_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the line holds the two words "<key> <value>" as tokens. */
static int has_pair(const char* line, size_t length, const char* key,
                    const char* value)
{
    char pair[64];
    snprintf(pair, sizeof pair, " %s %s", key, value);
    size_t n = strlen(pair);
    for (const char* at = line; at + n <= line + length; ++at)
    {
        if (memcmp(at, pair, n) == 0 &&
            (at + n == line + length || at[n] == ' '))
        {
            return 1;
        }
    }
    return 0;
}

long mlx5_find_vf_port(const char* output, const char* pf, unsigned vf_index)
{
    char prefix[64], vfnum[16];
    snprintf(prefix, sizeof prefix, "pci/%s/", pf);
    snprintf(vfnum, sizeof vfnum, "%u", vf_index);
    size_t prefix_length = strlen(prefix);
    const char* line = output;
    while (line != NULL && *line != '\0')
    {
        const char* end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        if (length > prefix_length &&
            strncmp(line, prefix, prefix_length) == 0 &&
            has_pair(line, length, "flavour", "pcivf") &&
            has_pair(line, length, "vfnum", vfnum) &&
            !has_pair(line, length, "external", "true"))
        {
            char* stop = NULL;
            long index = strtol(line + prefix_length, &stop, 10);
            if (stop != line + prefix_length && *stop == ':' && index >= 0)
            {
                return index;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return -1;
}
