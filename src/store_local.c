/* placeholder until the module lands */
typedef int gluefs_placeholder_store_local_t;
