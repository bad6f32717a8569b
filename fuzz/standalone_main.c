/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Corpus replayer for builds without libFuzzer (KMS_FUZZ=OFF): runs LLVMFuzzerTestOneInput once
 * on the bytes of every regular file named on the command line or found in a directory named
 * there (and in its subdirectories, one level down), in sorted order. Each input is copied into
 * an exact-size heap block so ASan sees reads past its end, as under libFuzzer.
 *
 * Exit 0 when at least one input ran; 1 when a path cannot be read or no input was found, so a
 * lost or empty corpus fails its ctest. Arguments starting with '-' (libFuzzer flags) are ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 2 /* a directory argument and its subdirectories */

static size_t n_run;

static int run_file(const char *path, off_t st_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t size = (size_t)st_size;
    uint8_t *buf = malloc(size); /* malloc(0) still yields a guarded zero-byte block */
    int rc = 0;
    if (buf == NULL && size > 0) {
        fprintf(stderr, "%s: out of memory\n", path);
        rc = -1;
    } else if ((size > 0 && fread(buf, 1, size, f) != size) || fgetc(f) != EOF) {
        fprintf(stderr, "%s: short read or file changed size\n", path);
        rc = -1;
    }
    fclose(f);
    if (rc == 0) {
        fprintf(stderr, "Running: %s (%zu bytes)\n", path, size);
        (void)LLVMFuzzerTestOneInput(buf, size);
        n_run++;
    }
    free(buf);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int depth);

static int run_dir(const char *path, int depth)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;
        if ((names[n] = malloc(len)) == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (rc != 0) {
        fprintf(stderr, "%s: out of memory\n", path);
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && run_path(names[i], depth + 1) != 0) {
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int run_path(const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        return run_file(path, st.st_size);
    }
    if (S_ISDIR(st.st_mode)) {
        return depth < MAX_DEPTH ? run_dir(path, depth) : 0;
    }
    return 0; /* sockets, fifos and the like are not inputs */
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            continue;
        }
        if (run_path(argv[i], 0) != 0) {
            rc = 1;
        }
    }
    printf("%s: ran %zu inputs\n", argc > 0 ? argv[0] : "replay", n_run);
    if (n_run == 0) {
        fprintf(stderr, "no inputs found: a corpus directory is missing or empty\n");
        rc = 1;
    }
    return rc;
}
