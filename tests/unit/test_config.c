/* test_config.c - options (config_parse) and the AWS-style resolution
 * order (config_resolve) of config.h, with temp credential/config files
 * and environment variables. */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fuse.h>
#include <fuse_opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char tmp[256];

/* Split S on spaces into ARGV (at most 31 words); "gluefs" is argv[0]. */
static int split(char *s, char **argv)
{
    int n = 0;
    argv[n++] = (char *)"gluefs";
    for (char *p; (p = strsep(&s, " ")) != NULL && n < 31;)
        if (*p)
            argv[n++] = p;
    argv[n] = NULL;
    return n;
}

/* Parse the words of LINE; the arguments left for libfuse are joined by
 * spaces into LEFT. */
static int parse_line(const char *line, struct config *cfg, char *err,
                      size_t errlen, char *left, size_t leftlen)
{
    char copy[1024], *argv[32];
    snprintf(copy, sizeof copy, "%s", line);
    int argc = split(copy, argv);
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    int rc = config_parse(&args, cfg, err, errlen);
    size_t o = 0;
    left[0] = '\0';
    for (int i = 1; i < args.argc && o < leftlen; i++)
        o += (size_t)snprintf(left + o, leftlen - o, "%s%s", i > 1 ? " " : "",
                              args.argv[i]);
    fuse_opt_free_args(&args);
    return rc;
}

static const char *s_or(const char *s)
{
    return s ? s : "(null)";
}

#define CHECK_OPT_STR(got, want)                                              \
    CHECK((got == NULL && want == NULL) ||                                    \
              (got && want && !strcmp(got, want)),                            \
          "%s: got '%s', want '%s'", #got, s_or(got), s_or(want))

static void test_parse(void)
{
    static const struct {
        const char *line;
        const char *endpoint, *region, *buckets, *local;
        bool path_style, virtual_host, no_sign, manual, fg;
        const char *left; /* what libfuse gets */
    } ok[] = {
        {"-o endpoint=http://h:9000,region=eu-west-1 /mnt", "http://h:9000",
         "eu-west-1", NULL, NULL, false, false, false, false, false, "/mnt"},
        {"--endpoint=http://h:9000 --path_style -f /mnt", "http://h:9000",
         NULL, NULL, NULL, true, false, false, false, true, "-f /mnt"},
        {"-o allow_other,buckets=a,b.c,noatime /mnt", NULL, NULL, "a,b.c",
         NULL, false, false, false, false, false,
         "-o allow_other,noatime /mnt"},
        {"--buckets=a,b -o ro /mnt", NULL, NULL, "a,b", NULL, false, false,
         false, false, false, "-o ro /mnt"},
        {"-obuckets=a,dev,x_y /mnt", NULL, NULL, "a", NULL, false, false,
         false, false, false, "-o dev,x_y /mnt"},
        {"-o buckets=a\\,dev /mnt", NULL, NULL, "a,dev", NULL, false, false,
         false, false, false, "/mnt"},
        {"--local=/srv/lake --crawl=manual -d /mnt", NULL, NULL, NULL,
         "/srv/lake", false, false, false, true, true, "-d /mnt"},
        {"-o virtual_host,no_sign_request,crawl=auto -s /mnt", NULL, NULL,
         NULL, NULL, false, true, true, false, false, "-s /mnt"},
        {"--region=x,y /mnt", NULL, "x,y", NULL, NULL, false, false, false,
         false, false, "/mnt"},
        {"/mnt -- --endpoint=http://no", NULL, NULL, NULL, NULL, false,
         false, false, false, false, "/mnt -- --endpoint=http://no"},
        {"-o debug /mnt", NULL, NULL, NULL, NULL, false, false, false, false,
         true, "-o debug /mnt"},
        {"--foo=bar /mnt", NULL, NULL, NULL, NULL, false, false, false,
         false, false, "--foo=bar /mnt"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct config cfg;
        char err[256], left[512];
        int rc = parse_line(ok[i].line, &cfg, err, sizeof err, left,
                            sizeof left);
        CHECK(rc == 0, "'%s': %d %s", ok[i].line, rc, err);
        if (rc)
            continue;
        CHECK_OPT_STR(cfg.endpoint, ok[i].endpoint);
        CHECK_OPT_STR(cfg.region, ok[i].region);
        CHECK_OPT_STR(cfg.buckets, ok[i].buckets);
        CHECK_OPT_STR(cfg.local_dir, ok[i].local);
        CHECK(cfg.path_style == ok[i].path_style &&
                  cfg.virtual_host == ok[i].virtual_host &&
                  cfg.no_sign_request == ok[i].no_sign &&
                  cfg.crawl_manual == ok[i].manual &&
                  cfg.foreground == ok[i].fg,
              "'%s': flags", ok[i].line);
        CHECK(!strcmp(left, ok[i].left), "'%s': left '%s', want '%s'",
              ok[i].line, left, ok[i].left);
        config_release(&cfg);
    }

    static const struct {
        const char *line;
        uint64_t readahead, part, sample;
        unsigned inflight, ttl, settle;
    } nums[] = {
        {"/mnt", 64ULL << 20, 8ULL << 20, 1ULL << 20, 4, 60, 3},
        {"-o readahead=16M,part_size=5MiB,sample_bytes=2k /mnt",
         16ULL << 20, 5ULL << 20, 2048, 4, 60, 3},
        {"--readahead=0 --parts_in_flight=8 --attr_ttl=0 --settle=10 /mnt",
         0, 8ULL << 20, 1ULL << 20, 8, 0, 10},
        {"-o part_size=1G,readahead=1073741824,sample_bytes=3KB /mnt",
         64ULL << 20 << 4, 1ULL << 30, 3072, 4, 60, 3},
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        struct config cfg;
        char err[256], left[512];
        int rc = parse_line(nums[i].line, &cfg, err, sizeof err, left,
                            sizeof left);
        CHECK(rc == 0, "'%s': %s", nums[i].line, err);
        CHECK(cfg.readahead_max == nums[i].readahead &&
                  cfg.part_size == nums[i].part &&
                  cfg.sample_bytes == nums[i].sample &&
                  cfg.parts_in_flight == nums[i].inflight &&
                  cfg.attr_ttl == nums[i].ttl &&
                  cfg.settle_seconds == nums[i].settle,
              "'%s': %llu %llu %llu %u %u %u", nums[i].line,
              (unsigned long long)cfg.readahead_max,
              (unsigned long long)cfg.part_size,
              (unsigned long long)cfg.sample_bytes, cfg.parts_in_flight,
              cfg.attr_ttl, cfg.settle_seconds);
        config_release(&cfg);
    }

    static const struct {
        const char *line, *msg; /* MSG: a piece of the error */
    } bad[] = {
        {"-o crawl=sometimes /mnt", "crawl"},
        {"--crawl=x /mnt", "'x'"},
        {"-o part_size=1K /mnt", "part_size"},
        {"-o part_size=6G /mnt", "out of range (5M..5G)"},
        {"-o readahead=12X /mnt", "readahead"},
        {"-o readahead=-1 /mnt", "readahead"},
        {"-o readahead= /mnt", "readahead"},
        {"-o readahead=99999999999999999999 /mnt", "out of range"},
        {"-o readahead=16777216T /mnt", "out of range"},
        {"-o parts_in_flight=0 /mnt", "parts_in_flight"},
        {"-o parts_in_flight=4k /mnt", "parts_in_flight"},
        {"-o attr_ttl=1e3 /mnt", "attr_ttl"},
        {"-o settle=86401 /mnt", "settle"},
        {"-o sample_bytes=10 /mnt", "sample_bytes"},
        {"-o endpoint /mnt", "endpoint"},
        {"--endpoint /mnt", "--endpoint"},
        {"--path_style=yes /mnt", "path_style"},
        {"-o path_style,virtual_host /mnt", "virtual_host"},
        {"-o local=/x,endpoint=http://h /mnt", "local"},
        {"-o local= /mnt", "local"},
        {"-o buckets=a,,b /mnt", NULL}, /* ",," splits: "b" is a bucket,
                                           "" an empty option: fine */
        {"--buckets=a,,b /mnt", "buckets"},
        {"-o /mnt", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct config cfg;
        char err[256] = "", left[512];
        int rc = parse_line(bad[i].line, &cfg, err, sizeof err, left,
                            sizeof left);
        if (!bad[i].msg && rc == 0) {
            config_release(&cfg);
            continue; /* accepted: also fine */
        }
        CHECK(rc == -EINVAL, "'%s': %d", bad[i].line, rc);
        CHECK(!bad[i].msg || strstr(err, bad[i].msg),
              "'%s': message '%s' lacks '%s'", bad[i].line, err,
              s_or(bad[i].msg));
        CHECK(cfg.endpoint == NULL && cfg.buckets == NULL,
              "nothing held after an error");
    }
}

/* ---- resolution --------------------------------------------------------- */

static const char *const env_vars[] = {
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static const char conf_text[] =
    "[default]\n"
    "region = eu-north-1\n"
    "\n"
    "[profile dev]\n"
    "region = ap-south-1 ; a comment\n"
    "endpoint_url = http://global:1\n"
    "s3 =\n"
    "  endpoint_url = http://nested:2/\n"
    "  addressing_style = virtual\n"
    "aws_access_key_id = CONFKEY\n"
    "aws_secret_access_key = CONFSECRET\n"
    "\n"
    "[profile flat]\n"
    "endpoint_url = http://flat:3\n"
    "aws_access_key_id = FLATKEY\n"
    "aws_secret_access_key = FLATSECRET\n"
    "aws_session_token = FLATTOKEN\n"
    "\n"
    "[profile svc]\n"
    "services = mysvc\n"
    "\n"
    "[services mysvc]\n"
    "s3 =\n"
    "  endpoint_url = http://svc:4\n"
    "\n"
    "[profile bad]\n"
    "endpoint_url = ftp://nope\n"
    "aws_secret_access_key = BADSECRET\n"
    "aws_access_key_id = BADKEY\n";

static char cred_text[4096];
static char long_token[1501];

static void make_cred_text(void)
{
    for (int i = 0; i < 1500; i++)
        long_token[i] = (char)('A' + i % 26);
    long_token[1500] = '\0';
    snprintf(cred_text, sizeof cred_text,
             "[default]\n"
             "aws_access_key_id = CREDKEY\n"
             "aws_secret_access_key = CREDSECRET\n"
             "\n"
             "[dev]\n"
             "aws_access_key_id=DEVKEY\n"
             "aws_secret_access_key=DEVSECRET\n"
             "aws_session_token = %s ; long\n"
             "region = ignored-here\n"
             "\n"
             "[half]\n"
             "aws_access_key_id = HALFKEY\n",
             long_token);
}

struct rcase {
    const char *name;
    const char *env;  /* "K=V K=V" set for this case */
    const char *opts; /* command line words, "/mnt" added */
    int files;        /* 0: none, 1: via AWS_*_FILE, 2: in ~/.aws */
    int rc;
    const char *endpoint, *region, *profile, *akid, *secret, *token;
    int embedded, path_style; /* -1: do not check */
};

static const struct rcase rcases[] = {
    {"nothing: embedded", "", "", 0, 0, NULL, "us-east-1", "default", NULL,
     NULL, NULL, 1, 0},
    {"env keys", "AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S", "", 0, 0,
     NULL, "us-east-1", "default", "K", "S", NULL, 0, 0},
    {"env keys need both", "AWS_ACCESS_KEY_ID=K", "", 0, 0, NULL,
     "us-east-1", "default", NULL, NULL, NULL, 1, 0},
    {"env token", "AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S "
                  "AWS_SESSION_TOKEN=T", "", 1, 0, NULL, "eu-north-1",
     "default", "K", "S", "T", 0, 0},
    {"endpoint: S3 env first",
     "AWS_ENDPOINT_URL_S3=http://s3env:1 AWS_ENDPOINT_URL=http://env:2 "
     "AWS_PROFILE=dev", "", 1, 0, "http://s3env:1", "ap-south-1", "dev",
     "DEVKEY", "DEVSECRET", long_token, 0, 0 /* addressing_style virtual */},
    {"endpoint: global env second", "AWS_ENDPOINT_URL=http://env:2/ "
                                    "AWS_PROFILE=dev", "", 1, 0,
     "http://env:2", "ap-south-1", "dev", "DEVKEY", "DEVSECRET", long_token,
     0, 0},
    {"endpoint: nested s3 third", "AWS_PROFILE=dev", "", 1, 0,
     "http://nested:2", "ap-south-1", "dev", "DEVKEY", "DEVSECRET",
     long_token, 0, 0},
    {"endpoint: option wins", "AWS_ENDPOINT_URL_S3=http://s3env:1",
     "-o endpoint=http://opt:9/ -o profile=dev", 1, 0, "http://opt:9",
     "ap-south-1", "dev", "DEVKEY", "DEVSECRET", long_token, 0, 0},
    {"endpoint: profile endpoint_url", "", "--profile=flat", 1, 0,
     "http://flat:3", "us-east-1", "flat", "FLATKEY", "FLATSECRET",
     "FLATTOKEN", 0, 1},
    {"endpoint: services section", "AWS_PROFILE=svc", "", 1, 0,
     "http://svc:4", "us-east-1", "svc", NULL, NULL, NULL, 0, 1},
    {"endpoint: ignore configured", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true "
     "AWS_ENDPOINT_URL=http://env:2", "--profile=flat", 1, 0, NULL,
     "us-east-1", "flat", "FLATKEY", "FLATSECRET", "FLATTOKEN", 0, 0},
    {"region: option", "AWS_REGION=r1 AWS_DEFAULT_REGION=r2", "-o region=r0",
     1, 0, NULL, "r0", "default", "CREDKEY", "CREDSECRET", NULL, 0, 0},
    {"region: AWS_REGION", "AWS_REGION=r1 AWS_DEFAULT_REGION=r2", "", 1, 0,
     NULL, "r1", "default", "CREDKEY", "CREDSECRET", NULL, 0, 0},
    {"region: AWS_DEFAULT_REGION", "AWS_DEFAULT_REGION=r2", "", 1, 0, NULL,
     "r2", "default", "CREDKEY", "CREDSECRET", NULL, 0, 0},
    {"region: profile", "", "", 1, 0, NULL, "eu-north-1", "default",
     "CREDKEY", "CREDSECRET", NULL, 0, 0},
    {"files in ~/.aws", "", "", 2, 0, NULL, "eu-north-1", "default",
     "CREDKEY", "CREDSECRET", NULL, 0, 0},
    {"profile: option beats AWS_PROFILE", "AWS_PROFILE=flat",
     "-o profile=dev", 1, 0, "http://nested:2", "ap-south-1", "dev",
     "DEVKEY", "DEVSECRET", long_token, 0, 0},
    {"keys: env beat files", "AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S "
                             "AWS_PROFILE=dev", "", 1, 0, "http://nested:2",
     "ap-south-1", "dev", "K", "S", NULL, 0, 0},
    {"keys: half in credentials, none in config", "AWS_PROFILE=half", "", 1,
     0, NULL, "us-east-1", "half", NULL, NULL, NULL, 1, 0},
    {"keys: from config when credentials lack them", "", "--profile=flat",
     1, 0, "http://flat:3", "us-east-1", "flat", "FLATKEY", "FLATSECRET",
     "FLATTOKEN", 0, 1},
    {"missing profile", "AWS_PROFILE=ghost", "", 1, -EINVAL, NULL, NULL,
     NULL, NULL, NULL, NULL, -1, -1},
    {"explicit default need not exist", "AWS_PROFILE=default", "", 0, 0,
     NULL, "us-east-1", "default", NULL, NULL, NULL, 1, 0},
    {"bad endpoint scheme", "", "-o profile=bad", 1, -EINVAL, NULL, NULL,
     NULL, NULL, NULL, NULL, -1, -1},
    {"no_sign_request: no keys, not embedded",
     "AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S", "-o no_sign_request", 0,
     0, NULL, "us-east-1", "default", NULL, NULL, NULL, 0, 0},
    {"custom endpoint: path style", "AWS_ENDPOINT_URL=http://m:9000", "", 0,
     0, "http://m:9000", "us-east-1", "default", NULL, NULL, NULL, 0, 1},
    {"custom endpoint: virtual_host", "AWS_ENDPOINT_URL=http://m:9000",
     "--virtual_host", 0, 0, "http://m:9000", "us-east-1", "default", NULL,
     NULL, NULL, 0, 0},
    {"local: no endpoint, no keys", "AWS_ENDPOINT_URL=http://m:9000 "
     "AWS_ACCESS_KEY_ID=K AWS_SECRET_ACCESS_KEY=S", "-o local=lake", 0, 0,
     NULL, "us-east-1", "default", NULL, NULL, NULL, 0, 0},
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++)
        unsetenv(env_vars[i]);
}

static void set_env_words(const char *words)
{
    char copy[512], *rest = copy;
    snprintf(copy, sizeof copy, "%s", words);
    for (char *p; (p = strsep(&rest, " ")) != NULL;) {
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        setenv(p, eq + 1, 1);
    }
}

static void test_resolve(void)
{
    char home[300], path[400], conf[400], cred[400];
    snprintf(home, sizeof home, "%s/home", tmp);
    mkdir(home, 0700);
    snprintf(path, sizeof path, "%s/.aws", home);
    mkdir(path, 0700);
    make_cred_text();
    snprintf(conf, sizeof conf, "%s/conf", tmp);
    snprintf(cred, sizeof cred, "%s/cred", tmp);
    write_file(conf, conf_text);
    write_file(cred, cred_text);
    char home_conf[400], home_cred[400];
    snprintf(home_conf, sizeof home_conf, "%s/.aws/config", home);
    snprintf(home_cred, sizeof home_cred, "%s/.aws/credentials", home);

    for (size_t i = 0; i < sizeof rcases / sizeof *rcases; i++) {
        const struct rcase *c = &rcases[i];
        clear_env();
        setenv("HOME", home, 1);
        unlink(home_conf);
        unlink(home_cred);
        if (c->files == 1) {
            setenv("AWS_CONFIG_FILE", conf, 1);
            setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
        } else if (c->files == 2) {
            write_file(home_conf, conf_text);
            write_file(home_cred, cred_text);
        } else {
            setenv("AWS_CONFIG_FILE", "/nonexistent/conf", 1);
            setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/cred", 1);
        }
        set_env_words(c->env);
        struct config cfg;
        char err[512] = "", left[512], line[512];
        snprintf(line, sizeof line, "%s%s/mnt", c->opts, *c->opts ? " " : "");
        int rc = parse_line(line, &cfg, err, sizeof err, left, sizeof left);
        CHECK(rc == 0, "%s: parse %d %s", c->name, rc, err);
        if (rc)
            continue;
        rc = config_resolve(&cfg, err, sizeof err);
        CHECK(rc == c->rc, "%s: rc %d, want %d (%s)", c->name, rc, c->rc,
              err);
        /* No secret ever reaches a message. */
        CHECK(!strstr(err, "SECRET") && !strstr(err, "TOKEN") &&
                  !strstr(err, "ABCDEFGHIJ"),
              "%s: secret in '%s'", c->name, err);
        if (rc == 0 && c->rc == 0) {
            CHECK_OPT_STR(cfg.endpoint, c->endpoint);
            CHECK_OPT_STR(cfg.region, c->region);
            CHECK_OPT_STR(cfg.profile, c->profile);
            CHECK(c->akid ? cfg.access_key && !strcmp(cfg.access_key, c->akid)
                          : cfg.access_key == NULL,
                  "%s: access key '%s'", c->name, s_or(cfg.access_key));
            CHECK(c->secret
                      ? cfg.secret_key && !strcmp(cfg.secret_key, c->secret)
                      : cfg.secret_key == NULL,
                  "%s: secret key", c->name);
            CHECK(c->token ? cfg.session_token &&
                                 !strcmp(cfg.session_token, c->token)
                           : cfg.session_token == NULL,
                  "%s: session token (%zu bytes)", c->name,
                  cfg.session_token ? strlen(cfg.session_token) : 0);
            if (c->embedded >= 0)
                CHECK(cfg.embedded == (c->embedded == 1), "%s: embedded %d",
                      c->name, cfg.embedded);
            if (c->path_style >= 0)
                CHECK(cfg.path_style == (c->path_style == 1),
                      "%s: path_style %d", c->name, cfg.path_style);
        }
        if (rc && c->rc == -EINVAL && !strcmp(c->name, "missing profile"))
            CHECK(strstr(err, "'ghost'") != NULL, "names the profile: %s",
                  err);
        config_release(&cfg);
    }
}

static void test_dirs(void)
{
    static const struct {
        const char *env, *opts;
        const char *state, *cache, *local; /* relative to tmp; "~" = home */
        bool embedded;
    } cases[] = {
        {"", "", "~/.local/state/gluefs", "~/.cache/gluefs",
         "~/.local/share/gluefs/lake", true},
        {"XDG_STATE_HOME=@/st XDG_CACHE_HOME=@/ca XDG_DATA_HOME=@/da", "",
         "@/st/gluefs", "@/ca/gluefs", "@/da/gluefs/lake", true},
        {"XDG_STATE_HOME=rel XDG_CACHE_HOME=rel XDG_DATA_HOME=rel", "",
         "~/.local/state/gluefs", "~/.cache/gluefs",
         "~/.local/share/gluefs/lake", true},
        {"XDG_STATE_HOME=@/st", "-o state_dir=@/mine,cache_dir=@/c,local=@/l",
         "@/mine", "@/c", "@/l", false},
    };
    char home[300];
    snprintf(home, sizeof home, "%s/home", tmp);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char env[512], opts[512], want[3][512], line[600], err[256], left[512];
        const char *src[3] = {cases[i].state, cases[i].cache, cases[i].local};
        /* '@' stands for the temp folder, '~' for the home folder. */
        struct {
            const char *in;
            char *out;
            size_t len;
        } subs[5] = {{cases[i].env, env, sizeof env},
                     {cases[i].opts, opts, sizeof opts},
                     {src[0], want[0], sizeof want[0]},
                     {src[1], want[1], sizeof want[1]},
                     {src[2], want[2], sizeof want[2]}};
        for (int k = 0; k < 5; k++) {
            size_t o = 0;
            for (const char *p = subs[k].in; *p && o + 1 < subs[k].len; p++) {
                const char *rep = *p == '@' ? tmp : *p == '~' ? home : NULL;
                if (rep)
                    o += (size_t)snprintf(subs[k].out + o, subs[k].len - o,
                                          "%s", rep);
                else
                    subs[k].out[o++] = *p;
            }
            subs[k].out[o < subs[k].len ? o : subs[k].len - 1] = '\0';
        }
        clear_env();
        setenv("HOME", home, 1);
        setenv("AWS_CONFIG_FILE", "/nonexistent/conf", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/cred", 1);
        set_env_words(env);
        snprintf(line, sizeof line, "%s /mnt", opts);
        struct config cfg;
        CHECK(parse_line(line, &cfg, err, sizeof err, left, sizeof left) ==
                  0,
              "parse %s", line);
        CHECK(config_resolve(&cfg, err, sizeof err) == 0, "resolve: %s", err);
        CHECK_OPT_STR(cfg.state_dir, (const char *)want[0]);
        CHECK_OPT_STR(cfg.cache_dir, (const char *)want[1]);
        CHECK_OPT_STR(cfg.local_dir, (const char *)want[2]);
        CHECK(cfg.embedded == cases[i].embedded, "case %zu: embedded", i);
        config_release(&cfg);
    }

    /* Relative folders become absolute. */
    char cwd[512], want[600], err[256], left[256];
    struct config cfg;
    clear_env();
    setenv("HOME", home, 1);
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    CHECK(parse_line("--local=lake --state_dir=st /mnt", &cfg, err,
                     sizeof err, left, sizeof left) == 0,
          "parse");
    CHECK(config_resolve(&cfg, err, sizeof err) == 0, "resolve");
    snprintf(want, sizeof want, "%s/lake", cwd);
    CHECK_STR(cfg.local_dir, want);
    snprintf(want, sizeof want, "%s/st", cwd);
    CHECK_STR(cfg.state_dir, want);
    config_release(&cfg);

    /* A structure that never went through config_parse gets defaults. */
    memset(&cfg, 0, sizeof cfg);
    CHECK(config_resolve(&cfg, err, sizeof err) == 0, "resolve bare");
    CHECK(cfg.part_size == 8ULL << 20 && cfg.readahead_max == 64ULL << 20 &&
              cfg.parts_in_flight == 4 && cfg.attr_ttl == 60 &&
              cfg.sample_bytes == 1ULL << 20 && cfg.settle_seconds == 3,
          "tuning defaults");
    config_release(&cfg);
    CHECK(strstr(config_help, "part_size=") && strstr(config_help, "crawl="),
          "help lists the options");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/gluefs-config-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    test_resolve();
    test_dirs();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp);
    return check_done();
}
