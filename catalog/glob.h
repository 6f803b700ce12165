/* glob.h - Glue crawler exclude patterns ("Include and exclude patterns"
 * in the AWS Glue developer guide; Java's glob syntax).
 *
 * A pattern is matched against an object's key relative to the crawler's
 * target prefix (s3://b/raw/ and key raw/x/y.csv: "x/y.csv"), whole:
 *   *      any characters within one path segment (never '/')
 *   **     any characters across segments; "**" followed by '/' also
 *          matches zero segments, so "**" then "/_tmp/" then "**"
 *          excludes "_tmp/a" as well as "x/_tmp/a"
 *   ?      one character other than '/'
 *   [a-z]  one character of the class; [!a] or [^a] negates; never '/'
 *   {a,b}  alternatives (they may nest and hold any of the above)
 *   \c     the character c itself
 * A '[' without its ']' is a literal '['. */
#ifndef GLUEFS_GLOB_H
#define GLUEFS_GLOB_H

#include <stdbool.h>

/* True if PATH matches PATTERN.  Pathological patterns give up (false)
 * after a bounded amount of work. */
bool glob_match(const char *pattern, const char *path);

#endif
