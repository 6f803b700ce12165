/* placeholder until the module lands */
typedef int gluefs_placeholder_fs_s3_t;
