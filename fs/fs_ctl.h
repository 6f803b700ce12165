/* fs_ctl.h - the generated namespaces: catalog/, crawlers/, jobs/ and
 * .gluefs/ (DESIGN.md 1, 3, 4, 5).
 *
 * Paths are the mount's full paths ("/catalog/db/t/schema").  Files are
 * rendered into a buffer at open() and served with direct_io; `wait`
 * blocks in open() until the run ends; writes to `spec` and `ctl` are
 * buffered and applied in flush(), so a bad spec fails close() with
 * EINVAL.  Each function returns 0 or -errno like its fuse_operations
 * namesake; fi->fh belongs to this module for these paths. */
#ifndef GLUEFS_FS_CTL_H
#define GLUEFS_FS_CTL_H

#define FUSE_USE_VERSION 35
#include <fuse.h>

struct gluefs;

void fsctl_init(struct gluefs *g);

int fsctl_getattr(const char *path, struct stat *st);
int fsctl_readdir(const char *path, void *buf, fuse_fill_dir_t filler);
int fsctl_readlink(const char *path, char *buf, size_t size);
int fsctl_open(const char *path, struct fuse_file_info *fi);
int fsctl_read(const char *path, char *buf, size_t size, off_t off,
               struct fuse_file_info *fi);
int fsctl_write(const char *path, const char *buf, size_t size, off_t off,
                struct fuse_file_info *fi);
int fsctl_flush(const char *path, struct fuse_file_info *fi);
int fsctl_release(const char *path, struct fuse_file_info *fi);
int fsctl_truncate(const char *path, off_t size);
int fsctl_mkdir(const char *path, mode_t mode);
int fsctl_rmdir(const char *path);
int fsctl_unlink(const char *path);

#endif
