/* placeholder until the module lands */
typedef int gluefs_placeholder_sigv4_t;
