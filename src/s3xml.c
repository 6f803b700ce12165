/* placeholder until the module lands */
typedef int gluefs_placeholder_s3xml_t;
