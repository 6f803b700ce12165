/* placeholder until the module lands */
typedef int gluefs_placeholder_fs_ctl_t;
