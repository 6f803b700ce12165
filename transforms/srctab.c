/* placeholder until the module lands */
typedef int gluefs_placeholder_srctab_t;
