/* test_s3xml_delete.c - DeleteObjects' answer (s3xml_parse_delete_result)
 * and the local backend's del_many.  Guards: per-key <Error> entries
 * reach the callback with key, code and errno (XML entities decoded,
 * <Deleted> entries ignored), an <Error> document is -EREMOTEIO, bad XML
 * -EPROTO; local del_many deletes every key and counts one request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "s3xml.h"
#include "stats.h"
#include "store.h"

struct seen {
    int n;
    char key[4][64];
    char code[4][32];
    int err[4];
};

static void on_error(void *ctx, const char *key, int err, const char *code,
                     const char *message)
{
    struct seen *s = ctx;
    (void)message;
    if (s->n < 4) {
        snprintf(s->key[s->n], sizeof s->key[0], "%s", key);
        snprintf(s->code[s->n], sizeof s->code[0], "%s", code);
        s->err[s->n] = err;
    }
    s->n++;
}

static void test_parse(void)
{
    static const struct {
        const char *doc;
        int rc, n;
        const char *key0, *code0;
        int err0;
    } cases[] = {
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "</DeleteResult>", 0, 0, NULL, NULL, 0},
        {"<DeleteResult><Deleted><Key>a</Key></Deleted>"
         "<Error><Key>b&amp;c &lt;d&gt;</Key><Code>AccessDenied</Code>"
         "<Message>Access Denied</Message></Error>"
         "<Error><Key>e</Key><Code>InternalError</Code></Error>"
         "</DeleteResult>", 0, 2, "b&c <d>", "AccessDenied", -EACCES},
        {"<DeleteResult><Error><Key>x&#10;y</Key><Code>SlowDown</Code>"
         "</Error></DeleteResult>", 0, 1, "x\ny", "SlowDown", -EIO},
        {"<Error><Code>AccessDenied</Code></Error>", -EREMOTEIO, 0, NULL,
         NULL, 0},
        {"<DeleteResult><Error>", -EPROTO, 0, NULL, NULL, 0},
        {"<ListBucketResult></ListBucketResult>", -EPROTO, 0, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct seen s;
        struct s3xml_error e;
        memset(&s, 0, sizeof s);
        int rc = s3xml_parse_delete_result(cases[i].doc, strlen(cases[i].doc),
                                           on_error, &s, &e);
        CHECK(rc == cases[i].rc, "case %zu: rc %d, want %d", i, rc,
              cases[i].rc);
        if (rc)
            continue;
        CHECK(s.n == cases[i].n, "case %zu: %d errors, want %d", i, s.n,
              cases[i].n);
        if (cases[i].key0) {
            CHECK_STR(s.key[0], cases[i].key0);
            CHECK_STR(s.code[0], cases[i].code0);
            CHECK(s.err[0] == cases[i].err0, "case %zu: err %d", i, s.err[0]);
        }
    }
}

static void test_local(void)
{
    char root[] = "/tmp/test_s3xml_delete.XXXXXX";
    if (!mkdtemp(root))
        return;
    char b[300];
    snprintf(b, sizeof b, "%s/bkt", root);
    mkdir(b, 0755);
    struct store *st;
    char err[256];
    CHECK(store_local_new(root, &st, err, sizeof err) == 0, "local store");
    CHECK(st->ext && st->ext->del_many, "local has del_many");
    const char *keys[] = {"a", "d/b", "d/c", "missing"};
    for (int i = 0; i < 3; i++)
        CHECK(st->ops->put(st, "bkt", keys[i], "x", 1, NULL) == 0, "put");
    uint64_t r0 = stats_get(STAT_requests_delete_objects);
    uint64_t k0 = stats_get(STAT_keys_deleted);
    struct seen s;
    memset(&s, 0, sizeof s);
    CHECK(st->ext->del_many(st, "bkt", keys, 4, on_error, &s) == 0,
          "del_many");
    CHECK(s.n == 0, "%d errors", s.n);
    CHECK(stats_get(STAT_requests_delete_objects) == r0 + 1, "one request");
    CHECK(stats_get(STAT_keys_deleted) == k0 + 4, "four keys");
    struct store_head h;
    for (int i = 0; i < 3; i++)
        CHECK(st->ops->head(st, "bkt", keys[i], &h) == -ENOENT, "%s gone",
              keys[i]);
    CHECK(st->ext->del_many(st, "nobucket", keys, 1, on_error, &s) == -ENOENT,
          "missing bucket");
    st->ops->free(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
}

int main(void)
{
    test_parse();
    test_local();
    return check_done();
}
