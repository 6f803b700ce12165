/* test_glob.c - Glue exclude patterns (glob.h): a table of (pattern, key
 * relative to the target, expected). */
#include "check.h"
#include "glob.h"

static const struct {
    const char *pattern, *path;
    bool want;
} cases[] = {
    /* '*' stays within one segment (Glue: "*.csv" is the current folder) */
    {"*.csv", "a.csv", true},
    {"*.csv", "t/a.csv", false},
    {"*.csv", "a.csv.gz", false},
    {"*", "a", true},
    {"*", "a/b", false},
    {"*.*", "x.y", true},
    {"*.*", "xy", false},
    {"*/*", "t/a.csv", true},
    {"myfolder/*", "myfolder/mysource", true},
    {"myfolder/*", "myfolder/a/b", false},
    {"myfolder/*/*", "myfolder/a/b", true},
    /* '**' crosses segments, and "**" + "/" may match zero segments */
    {"**", "a/b/c", true},
    {"**.bak", "a/b/c.bak", true},
    {"**.bak", "c.bak", true},
    {"**/_tmp/**", "t/_tmp/x.csv", true},
    {"**/_tmp/**", "_tmp/x.csv", true},
    {"**/_tmp/**", "t/tmp/x.csv", false},
    {"myfolder/**", "myfolder/a/b/c", true},
    {"myfolder/**", "other/a", false},
    {"myfolder**", "myfolder", true},
    {"myfolder**", "myfolder/mydata.csv", true},
    {"**/*.csv", "a/b/c.csv", true},
    {"**/*.csv", "c.csv", true},
    {"**/*.csv", "c.json", false},
    /* '?' is one character, never '/' */
    {"foo.?", "foo.a", true},
    {"foo.?", "foo.ab", false},
    {"a?b", "a/b", false},
    /* classes */
    {"[a-c]x", "bx", true},
    {"[a-c]x", "dx", false},
    {"[!a]x", "bx", true},
    {"[!a]x", "ax", false},
    {"[^a]x", "ax", false},
    {"[]]", "]", true},
    {"[a-]", "-", true},
    {"x[/]y", "x/y", false},
    {"[ab", "[ab", true},
    /* alternatives, nested */
    {"*.{csv,avro}", "a.avro", true},
    {"*.{csv,avro}", "a.csv", true},
    {"*.{csv,avro}", "a.json", false},
    {"{a,b{c,d}}.txt", "bd.txt", true},
    {"{a,b{c,d}}.txt", "a.txt", true},
    {"{a,b{c,d}}.txt", "b.txt", false},
    {"{**/,}x.csv", "x.csv", true},
    {"{,x}", "", true},
    {"{a,b", "{a,b", true},
    /* escapes */
    {"\\*.csv", "*.csv", true},
    {"\\*.csv", "a.csv", false},
    {"a\\{b\\}", "a{b}", true},
    {"a\\?", "a?", true},
    {"a\\?", "ab", false},
    /* whole-string match */
    {"a", "ab", false},
    {"ab", "a", false},
    {"", "", true},
    {"", "a", false},
    /* a pathological pattern ends (bounded work) */
    {"*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = glob_match(cases[i].pattern, cases[i].path);
        CHECK(got == cases[i].want, "pattern '%s' path '%s': got %d",
              cases[i].pattern, cases[i].path, got);
    }
    CHECK(!glob_match(NULL, "a"), "NULL pattern");
    return check_done();
}
