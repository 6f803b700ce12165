/* config.h - mount options and AWS-style configuration (DESIGN.md 1).
 *
 * Resolution order, as the AWS CLI documents it:
 *   endpoint: option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile
 *             endpoint_url (also `s3 = endpoint_url = ...` sub-section),
 *             else https://s3.<region>.amazonaws.com
 *   region:   option, AWS_REGION, AWS_DEFAULT_REGION, profile region,
 *             us-east-1
 *   profile:  option, AWS_PROFILE, "default"
 *   keys:     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
 *             then the profile in AWS_SHARED_CREDENTIALS_FILE
 *             (~/.aws/credentials), then AWS_CONFIG_FILE (~/.aws/config,
 *             section "profile NAME" or "default").
 * With no endpoint, no credentials and no local=, the embedded local lake
 * at $XDG_DATA_HOME/gluefs/lake is served (`embedded` is set). */
#ifndef GLUEFS_CONFIG_H
#define GLUEFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_args;

struct config {
    /* Options as given (NULL when not given), then resolved. */
    char *endpoint;      /* URL without trailing '/', e.g. http://127.0.0.1:9000 */
    char *region;
    char *profile;
    char *buckets;       /* comma-separated list, or NULL for all */
    bool path_style;     /* resolved: true for a custom endpoint unless virtual_host */
    bool virtual_host;
    bool no_sign_request;
    char *local_dir;     /* local=DIR, or the embedded lake's folder */
    char *state_dir;     /* resolved: $XDG_STATE_HOME/gluefs or ~/.local/state/gluefs */
    char *cache_dir;     /* resolved: $XDG_CACHE_HOME/gluefs or ~/.cache/gluefs */
    bool crawl_manual;   /* crawl=manual */
    bool embedded;       /* serving the embedded local lake */
    bool foreground;     /* -f / -d seen (for messages only) */

    /* Credentials (never logged). */
    char *access_key;
    char *secret_key;
    char *session_token;

    /* Data-path tuning (bytes / counts), documented in README. */
    uint64_t readahead_max;  /* readahead=BYTES, largest read-ahead window per open file */
    uint64_t part_size;      /* part_size=BYTES, multipart part size */
    unsigned parts_in_flight;/* parts_in_flight=N, uploads in parallel per file */
    unsigned attr_ttl;       /* attr_ttl=SECONDS, attribute/listing cache lifetime */
    uint64_t sample_bytes;   /* sample_bytes=BYTES, crawler sample per object */
    unsigned settle_seconds; /* settle=SECONDS, quiet time after writes before a crawl */
};

/* Parse gluefs's own options out of ARGS (FUSE's fuse_opt; `--key=value`
 * is rewritten to `-o key=value` first), leaving libfuse's options in
 * ARGS.  Returns 0, or -EINVAL with a message in ERR (e.g. an unknown
 * value for crawl=). */
int config_parse(struct fuse_args *args, struct config *cfg, char *err,
                 size_t errlen);

/* Fill defaults and the AWS environment/profile into CFG (see the order
 * above) and decide `embedded`.  Creates nothing on disk.  Returns 0 or
 * -EINVAL with a message in ERR (the message never holds a secret). */
int config_resolve(struct config *cfg, char *err, size_t errlen);

/* Free every string CFG holds. */
void config_release(struct config *cfg);

/* Help text for the options, one per line, for --help. */
extern const char config_help[];

#endif
