/* main.c - gluefs [options] MOUNTPOINT (DESIGN.md 1).
 *
 * Parses options, resolves the AWS-style configuration, opens the object
 * store and the state store, and hands over to libfuse.  Threads
 * (crawlers, jobs, upload workers) start in the FUSE init callback, after
 * libfuse has daemonised. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "fs.h"
#include "gluefs.h"
#include "log.h"
#include "state.h"
#include "store.h"

#ifndef GLUEFS_SAMPLES_DIR
#define GLUEFS_SAMPLES_DIR ""
#endif

static void usage(const char *prog)
{
    printf("usage: %s [options] MOUNTPOINT\n\n"
           "Mounts a data lake: s3/ (buckets as folders), catalog/ (crawled\n"
           "tables), crawlers/ and jobs/ (control files).\n\n"
           "gluefs options (-o key=value or --key=value):\n%s\n",
           prog, config_help);
}

/* mkdir -p with MODE for the last component. */
static int make_dirs(const char *dir, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) && errno != EEXIST)
        return -errno;
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int rc = 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        if (write(out, buf, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    }
    close(in);
    if (close(out) && !rc)
        rc = -errno;
    return rc;
}

/* First use of the embedded lake: create it and seed the "samples" bucket
 * with Seattle's weather (from the vega-datasets package that tools/run
 * installs).  Later mounts leave the lake as the user left it. */
static void embedded_prepare(const char *lake)
{
    struct stat st;
    fprintf(stderr, "gluefs: no S3 endpoint or credentials configured: "
                    "serving the embedded local lake at '%s'\n", lake);
    if (!stat(lake, &st))
        return;
    int rc = make_dirs(lake, 0755);
    if (rc) {
        fprintf(stderr, "gluefs: cannot create '%s': %s\n", lake,
                strerror(-rc));
        return;
    }
    const char *src = getenv("GLUEFS_SAMPLES_DIR");
    if (!src || !*src)
        src = GLUEFS_SAMPLES_DIR;
    char from[PATH_MAX], dir[PATH_MAX], to[PATH_MAX + 32];
    snprintf(from, sizeof from, "%s/seattle-weather.csv", src);
    snprintf(dir, sizeof dir, "%s/samples/weather", lake);
    snprintf(to, sizeof to, "%s/seattle-weather.csv", dir);
    if (access(from, R_OK)) {
        fprintf(stderr, "gluefs: no sample data at '%s' (run tools/setup): "
                        "the lake starts empty\n", from);
        return;
    }
    rc = make_dirs(dir, 0755);
    if (!rc)
        rc = copy_file(from, to);
    /* An empty samples/raw/ folder (a marker, as mkdir makes) so that the
     * README's `cp big.csv ~/lake/s3/samples/raw/` works at once. */
    char raw[PATH_MAX + 32];
    snprintf(raw, sizeof raw, "%s/samples/raw", lake);
    if (!rc && !make_dirs(raw, 0755)) {
        snprintf(raw, sizeof raw, "%s/samples/raw/.gluefs-marker", lake);
        int fd = open(raw, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    if (rc)
        fprintf(stderr, "gluefs: cannot seed '%s': %s\n", to, strerror(-rc));
    else
        fprintf(stderr, "gluefs: seeded bucket 'samples' with weather/"
                        "seattle-weather.csv\n");
}

static void set_log_level(void)
{
    const char *v = getenv("GLUEFS_LOG");
    if (!v)
        return;
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", LOG_ERR}, {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE}, {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (!strcmp(v, levels[i].name))
            log_level = levels[i].level;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct config cfg;
    struct gluefs g;
    char err[512] = "";
    int rc = 1;

    memset(&cfg, 0, sizeof cfg);
    memset(&g, 0, sizeof g);
    set_log_level();
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(argv[0]);
            return fuse_main(args.argc, args.argv, &fs_ops, NULL);
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("gluefs %s\n", GLUEFS_VERSION);
            return fuse_main(args.argc, args.argv, &fs_ops, NULL);
        }
    if (config_parse(&args, &cfg, err, sizeof err) ||
        config_resolve(&cfg, err, sizeof err)) {
        fprintf(stderr, "gluefs: %s\n", err);
        rc = 2;
        goto out;
    }
    if (cfg.embedded)
        embedded_prepare(cfg.local_dir);
    if (cfg.local_dir)
        rc = store_local_new(cfg.local_dir, &g.store, err, sizeof err);
    else
        rc = store_s3_new(&cfg, &g.store, err, sizeof err);
    if (rc) {
        fprintf(stderr, "gluefs: %s\n", err[0] ? err : strerror(-rc));
        rc = 1;
        goto out;
    }
    if (state_open(cfg.state_dir, &g.db) || catalog_init(g.db)) {
        fprintf(stderr, "gluefs: cannot open the state store in '%s'\n",
                cfg.state_dir);
        rc = 1;
        goto out;
    }
    g.cfg = &cfg;
    g.bucket_filter = cfg.buckets;
    rc = fuse_main(args.argc, args.argv, &fs_ops, &g);
out:
    if (g.db)
        state_close(g.db);
    if (g.store)
        g.store->ops->free(g.store);
    config_release(&cfg);
    fuse_opt_free_args(&args);
    return rc;
}
