/* fs_s3.h - the s3/ namespace (DESIGN.md 2): objects as files, "/"
 * prefixes as folders.
 *
 * Paths given here are relative to the mount's s3/ folder: "/" is the
 * list of buckets, "/bucket", "/bucket/dir/key".  Each function has the
 * shape and return convention of the fuse_operations member of the same
 * name (0 or -errno).  The caller (fs.c) routes by path and passes FI
 * through; fi->fh belongs to this module. */
#ifndef GLUEFS_FS_S3_H
#define GLUEFS_FS_S3_H

#define FUSE_USE_VERSION 35
#include <fuse.h>
#include <stdint.h>

struct gluefs;

int fss3_init(struct gluefs *g);
void fss3_destroy(void);

int fss3_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int fss3_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
                 off_t off, struct fuse_file_info *fi,
                 enum fuse_readdir_flags flags);
int fss3_open(const char *path, struct fuse_file_info *fi);
int fss3_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int fss3_read(const char *path, char *buf, size_t size, off_t off,
              struct fuse_file_info *fi);
int fss3_write(const char *path, const char *buf, size_t size, off_t off,
               struct fuse_file_info *fi);
int fss3_flush(const char *path, struct fuse_file_info *fi);
int fss3_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int fss3_release(const char *path, struct fuse_file_info *fi);
int fss3_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int fss3_unlink(const char *path);
int fss3_mkdir(const char *path, mode_t mode);
int fss3_rmdir(const char *path);
int fss3_rename(const char *from, const char *to, unsigned int flags);
int fss3_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int fss3_chown(const char *path, uid_t uid, gid_t gid,
               struct fuse_file_info *fi);
int fss3_utimens(const char *path, const struct timespec tv[2],
                 struct fuse_file_info *fi);
int fss3_statfs(const char *path, struct statvfs *st);

/* Drop cached attributes and listings for BUCKET/KEY and its parent
 * folders (used when jobs write objects through the store directly). */
void fss3_invalidate(const char *bucket, const char *key);

/* Largest object CopyObject takes (STORE_PUT_MAX, S3's 5 GiB); larger
 * ones are renamed by streaming a GET into a multipart upload.  For
 * tests. */
void fss3_set_copy_limit(uint64_t bytes);

#endif
