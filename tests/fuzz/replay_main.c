/*
 * replay_main: runs a fuzz target's LLVMFuzzerTestOneInput over a corpus
 * without libFuzzer, so that CI replays every seed and past crash under the
 * sanitizers. Arguments are directories (every regular file in them, in name
 * order) or files. Fails if an argument is missing or a directory is empty.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; returns 0 or -errno. *ret_buf is the caller's to free. */
static int
s_read_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f)
        return -errno;
    for (;;) {
        size_t n;

        if (len == cap) {
            uint8_t *bigger;

            cap = cap ? 2 * cap : 4096;
            bigger = realloc(buf, cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = bigger;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

/* Runs one input from an exact-size copy, so that ASan sees any overread. */
static int
s_run_file(const char *path)
{
    uint8_t *buf = NULL, *exact;
    size_t len = 0;
    int rc = s_read_file(path, &buf, &len);

    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(-rc));
        return rc;
    }
    exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int
s_regular_only(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Returns the number of inputs run, or -errno. */
static long
s_run_dir(const char *dir)
{
    struct dirent **names;
    long ran = 0;
    int n = scandir(dir, &names, s_regular_only, alphasort);

    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (s_run_file(path) < 0) {
                ran = -EIO;
                break;
            }
            ran++;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ran;
}

int
main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            ran = s_run_dir(argv[i]);
            if (ran < 0) {
                fprintf(stderr, "%s: %s\n", argv[i], strerror((int)-ran));
                return 1;
            }
            if (ran == 0) {
                fprintf(stderr, "%s: no inputs\n", argv[i]);
                return 1;
            }
        } else {
            if (s_run_file(argv[i]) < 0)
                return 1;
            ran = 1;
        }
        total += ran;
    }
    printf("%s: ran %ld inputs\n", argv[0], total);
    return 0;
}
