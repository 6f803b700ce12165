/* test_crawl_spec.c - crawler spec parsing (catalog/crawl_spec.c): good
 * specs give normalised targets, database, excludes and interval; each bad
 * spec gives -EINVAL and its exact "spec line N: ..." message. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "crawl_spec.h"

struct good_case {
    const char *text;
    bool allow_no_targets;
    const char *targets[4];  /* NULL-terminated */
    const char *database;    /* NULL: none */
    const char *excludes[4]; /* NULL-terminated */
    unsigned interval;
};

static const struct good_case good[] = {
    {"targets = s3://b/raw\n", false, {"s3://b/raw/"}, NULL, {NULL}, 0},
    {"targets = s3://b\n", false, {"s3://b/"}, NULL, {NULL}, 0},
    {"targets = s3://b/a, s3://c/d/\ndatabase = sales\n"
     "exclude = *.tmp, {a,b}.x\ninterval = 60\n",
     false, {"s3://b/a/", "s3://c/d/"}, "sales", {"*.tmp", "{a,b}.x"}, 60},
    {"# comment\n\ntargets = s3://b/x/   # trailing comment\n", false,
     {"s3://b/x/"}, NULL, {NULL}, 0},
    {"targets = s3://b/x/\n  s3://b/y, s3://b/z\nexclude = a\n  b\n", false,
     {"s3://b/x/", "s3://b/y/", "s3://b/z/"}, NULL, {"a", "b"}, 0},
    {"", true, {NULL}, NULL, {NULL}, 0},
    {"interval =\ndatabase =\ntargets = s3://b/p/q\r\n", false,
     {"s3://b/p/q/"}, NULL, {NULL}, 0},
};

struct bad_case {
    const char *text;
    const char *err;
};

static const struct bad_case bad[] = {
    {"targte = s3://b/\n", "spec line 1: unknown key 'targte'"},
    {"targets = s3://b/\nfoo\n", "spec line 2: expected 'key = value'"},
    {"targets = s3://b/\ntargets = s3://c/\n",
     "spec line 2: 'targets' given twice"},
    {"targets = http://x/\n",
     "spec line 1: target 'http://x/' is not an s3://bucket/prefix/ URL"},
    {"# c\n\ntargets = s3://b*/\n",
     "spec line 3: target 's3://b*/' is not an s3://bucket/prefix/ URL"},
    {"targets = s3://b/\n  s3:///x\n",
     "spec line 2: target 's3:///x' is not an s3://bucket/prefix/ URL"},
    {"targets = s3://b/\ninterval = 5m\n",
     "spec line 2: interval '5m' is not a number of seconds"},
    {"targets = s3://b/\ninterval = -1\n",
     "spec line 2: interval '-1' is not a number of seconds"},
    {"targets = s3://b/\ninterval = 5\n  6\n",
     "spec line 3: 'interval' only takes one value"},
    {"targets = s3://b/\ndatabase = a\n  b\n",
     "spec line 3: 'database' only takes one value"},
    {"database = x\n",
     "spec: missing key 'targets' (targets = s3://bucket/prefix/)"},
};

static void check_list(char **got, size_t n, const char *const *want,
                       const char *what, size_t ci)
{
    size_t nw = 0;
    while (nw < 4 && want[nw])
        nw++;
    CHECK(n == nw, "case %zu: %s: %zu items, want %zu", ci, what, n, nw);
    for (size_t i = 0; i < n && i < nw; i++)
        CHECK_STR(got[i], want[i]);
}

int main(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct crawl_spec sp;
        int rc = crawl_spec_parse(good[i].text, strlen(good[i].text),
                                  good[i].allow_no_targets, &sp, err,
                                  sizeof err);
        CHECK(rc == 0, "case %zu: rc %d, err '%s'", i, rc, err);
        if (rc)
            continue;
        check_list(sp.targets, sp.ntargets, good[i].targets, "targets", i);
        check_list(sp.excludes, sp.nexcludes, good[i].excludes, "excludes",
                   i);
        if (good[i].database)
            CHECK_STR(sp.database, good[i].database);
        else
            CHECK(sp.database == NULL, "case %zu: database '%s'", i,
                  sp.database);
        CHECK(sp.interval == good[i].interval, "case %zu: interval %u", i,
              sp.interval);
        /* a copy is equal and independent */
        struct crawl_spec cp;
        CHECK(crawl_spec_copy(&cp, &sp) == 0, "case %zu: copy", i);
        crawl_spec_release(&sp);
        check_list(cp.targets, cp.ntargets, good[i].targets, "copy", i);
        CHECK(cp.interval == good[i].interval, "case %zu: copy interval", i);
        crawl_spec_release(&cp);
        CHECK(cp.targets == NULL && cp.ntargets == 0, "case %zu: released",
              i);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct crawl_spec sp;
        int rc = crawl_spec_parse(bad[i].text, strlen(bad[i].text), false,
                                  &sp, err, sizeof err);
        CHECK(rc == -EINVAL, "bad case %zu: rc %d", i, rc);
        CHECK_STR(err, bad[i].err);
        CHECK(sp.targets == NULL && sp.ntargets == 0 && !sp.database,
              "bad case %zu: spec not empty", i);
    }
    /* a spec over CRAWL_SPEC_MAX is refused before parsing */
    {
        static char big[CRAWL_SPEC_MAX + 2];
        memset(big, '#', sizeof big);
        struct crawl_spec sp;
        CHECK(crawl_spec_parse(big, sizeof big, true, &sp, err, sizeof err) ==
                  -EINVAL,
              "big spec accepted");
        CHECK_STR(err, "spec: longer than 65536 bytes");
    }
    /* crawl_split_url */
    {
        char b[8], p[16];
        CHECK(crawl_split_url("s3://bk/a/b", b, sizeof b, p, sizeof p) == 0,
              "split");
        CHECK_STR(b, "bk");
        CHECK_STR(p, "a/b");
        CHECK(crawl_split_url("s3://bk", b, sizeof b, p, sizeof p) == 0,
              "split bucket only");
        CHECK_STR(p, "");
        CHECK(crawl_split_url("gs://bk/", b, sizeof b, p, sizeof p) ==
                  -EINVAL,
              "split gs");
        CHECK(crawl_split_url("s3://toolongbucket/", b, sizeof b, p,
                              sizeof p) == -EINVAL,
              "split long bucket");
        CHECK(crawl_split_url("s3://b/0123456789abcdefg", b, sizeof b, p,
                              sizeof p) == -ENAMETOOLONG,
              "split long prefix");
    }
    return check_done();
}
