/*
 * The cold-start baseline: the sysfs reads vfiod's start-up makes, replayed
 * with nothing but open/read/close, readlink, opendir/readdir and access,
 * on a real directory tree (bench/sim_tool.cpp "record" writes both the
 * tree and the list of reads from what DeviceManager::enumerate asked).
 *
 * usage: vfiod-bench-walk MANIFEST ROOT
 * Each manifest line is "<op> <path>": r read, l readlink, d readdir,
 * e exists. Prints how many reads it made.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char* slurp(const char* path)
{
    FILE* f = fopen(path, "re");
    if (!f)
    {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size)
    {
        perror(path);
        exit(1);
    }
    text[size] = '\0';
    fclose(f);
    return text;
}

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: vfiod-bench-walk MANIFEST ROOT\n");
        return 2;
    }
    char* manifest = slurp(argv[1]);
    int root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
    {
        perror(argv[2]);
        return 1;
    }
    char buf[4096];
    unsigned long ops = 0;
    for (char* line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n"))
    {
        if (strlen(line) < 3)
        {
            continue;
        }
        const char* path = line + 2;
        ++ops;
        switch (line[0])
        {
            case 'r':
            {
                int fd = openat(root, path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                {
                    while (read(fd, buf, sizeof buf) > 0)
                    {}
                    close(fd);
                }
                break;
            }
            case 'l':
                (void)readlinkat(root, path, buf, sizeof buf);
                break;
            case 'd':
            {
                int fd = openat(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                DIR* dir = fd >= 0 ? fdopendir(fd) : NULL;
                if (dir)
                {
                    while (readdir(dir))
                    {}
                    closedir(dir);
                }
                else if (fd >= 0)
                {
                    close(fd);
                }
                break;
            }
            case 'e':
                (void)faccessat(root, path, F_OK, 0);
                break;
            default:
                fprintf(stderr, "vfiod-bench-walk: bad manifest line: %s\n",
                        line);
                return 1;
        }
    }
    printf("%lu\n", ops);
    return 0;
}
