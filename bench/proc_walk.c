/*
 * vfiod-bench-proc-walk: the baseline of holder_scan (bench/README.md):
 * what fuser does to find who holds a file, as plain syscalls: readdir of
 * /proc, and for every process readdir of its fd directory and readlink of
 * each entry. Prints {"seconds": [...], "links": N} for REPS walks.
 *
 * Usage: vfiod-bench-proc-walk REPS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long walk(void)
{
    long links = 0;
    DIR* proc = opendir("/proc");
    if (proc == NULL)
    {
        return -1;
    }
    struct dirent* p;
    while ((p = readdir(proc)) != NULL)
    {
        if (p->d_name[0] < '0' || p->d_name[0] > '9')
        {
            continue;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            continue;
        }
        DIR* fds = fdopendir(fd);
        if (fds == NULL)
        {
            close(fd);
            continue;
        }
        struct dirent* f;
        while ((f = readdir(fds)) != NULL)
        {
            char target[PATH_MAX];
            if (f->d_name[0] != '.' &&
                readlinkat(dirfd(fds), f->d_name, target, sizeof target) > 0)
            {
                ++links;
            }
        }
        closedir(fds);
    }
    closedir(proc);
    return links;
}

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        fprintf(stderr, "usage: vfiod-bench-proc-walk REPS\n");
        return 2;
    }
    int reps = atoi(argv[1]);
    long links = 0;
    printf("{\"seconds\": [");
    for (int i = 0; i < reps; ++i)
    {
        double start = now();
        links = walk();
        printf("%s%.9f", i == 0 ? "" : ", ", now() - start);
    }
    printf("], \"links\": %ld}\n", links);
    return links < 0 ? 1 : 0;
}
