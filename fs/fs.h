/* fs.h - the FUSE face: one fuse_operations table that routes each path
 * to its namespace (DESIGN.md 1):
 *   /s3/...                       fs_s3.c   objects as files
 *   /catalog, /crawlers, /jobs,
 *   /.gluefs                      fs_ctl.c  generated and control files
 * The root lists s3, catalog, crawlers, jobs (and the hidden .gluefs). */
#ifndef GLUEFS_FS_H
#define GLUEFS_FS_H

#define FUSE_USE_VERSION 35
#include <fuse.h>

/* The operations table; fuse_main's private_data is the struct gluefs. */
extern const struct fuse_operations fs_ops;

#endif
