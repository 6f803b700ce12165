/* placeholder until the module lands */
typedef int gluefs_placeholder_jobs_t;
