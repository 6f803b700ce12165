/* glob.c - Glue exclude patterns; see glob.h */
#include "glob.h"

#include <stdlib.h>
#include <string.h>

#define GLOB_STEPS_MAX 1000000L /* matcher steps before giving up */
#define GLOB_ALTS_MAX 4096      /* brace expansions before giving up */

struct glob_state {
    long steps;
    long alts;
};

/* Does class "[...]" at P (P points past '[') hold C?  *END is set past the
 * closing ']'; returns -1 when the class is not closed. */
static int class_match(const char *p, char c, const char **end)
{
    bool neg = false, hit = false;
    if (*p == '!' || *p == '^') {
        neg = true;
        p++;
    }
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        char lo = *p;
        if (lo == '\\' && p[1])
            lo = *++p;
        p++;
        char hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            hi = *p;
            if (hi == '\\' && p[1])
                hi = *++p;
            p++;
        }
        if ((unsigned char)c >= (unsigned char)lo &&
            (unsigned char)c <= (unsigned char)hi)
            hit = true;
    }
    if (*p != ']')
        return -1;
    *end = p + 1;
    return hit != neg;
}

static bool simple_match(struct glob_state *g, const char *p, const char *s)
{
    while (*p) {
        if (++g->steps > GLOB_STEPS_MAX)
            return false;
        switch (*p) {
        case '*':
            if (p[1] == '*') {
                const char *rest = p + 2;
                while (*rest == '*')
                    rest++;
                if (*rest == '/' && simple_match(g, rest + 1, s))
                    return true;
                for (const char *t = s;; t++) {
                    if (simple_match(g, rest, t))
                        return true;
                    if (!*t)
                        return false;
                }
            }
            for (const char *t = s;; t++) {
                if (simple_match(g, p + 1, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        case '?':
            if (!*s || *s == '/')
                return false;
            p++;
            s++;
            break;
        case '[': {
            const char *end;
            if (!*s || *s == '/')
                return false;
            int m = class_match(p + 1, *s, &end);
            if (m < 0) {
                if (*s != '[')
                    return false;
                p++;
                s++;
                break;
            }
            if (!m)
                return false;
            p = end;
            s++;
            break;
        }
        case '\\':
            if (p[1])
                p++;
            /* fall through */
        default:
            if (*s != *p)
                return false;
            p++;
            s++;
        }
    }
    return *s == '\0';
}

/* Find the first top-level unescaped '{' outside a class, and its '}'. */
static bool find_brace(const char *p, const char **open, const char **close)
{
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '[') {
            const char *end;
            if (class_match(p + 1, 'x', &end) >= 0)
                p = end - 1;
        } else if (*p == '{') {
            int depth = 0;
            for (const char *q = p; *q; q++) {
                if (*q == '\\' && q[1])
                    q++;
                else if (*q == '{')
                    depth++;
                else if (*q == '}' && --depth == 0) {
                    *open = p;
                    *close = q;
                    return true;
                }
            }
            return false; /* unclosed: literal */
        }
    }
    return false;
}

static bool brace_match(struct glob_state *g, const char *p, const char *s)
{
    const char *open, *close;
    if (!find_brace(p, &open, &close))
        return simple_match(g, p, s);
    size_t pre = (size_t)(open - p), post = strlen(close + 1);
    const char *alt = open + 1;
    int depth = 0;
    for (const char *q = alt;; q++) {
        if (*q == '\\' && q[1] && q < close) {
            q++;
            continue;
        }
        if (*q == '{')
            depth++;
        else if (*q == '}' && q != close)
            depth--;
        if (q == close || (*q == ',' && depth == 0)) {
            if (++g->alts > GLOB_ALTS_MAX)
                return false;
            size_t alen = (size_t)(q - alt);
            char *np = malloc(pre + alen + post + 1);
            if (!np)
                return false;
            memcpy(np, p, pre);
            memcpy(np + pre, alt, alen);
            memcpy(np + pre + alen, close + 1, post + 1);
            bool m = brace_match(g, np, s);
            free(np);
            if (m)
                return true;
            if (q == close)
                return false;
            alt = q + 1;
        }
    }
}

bool glob_match(const char *pattern, const char *path)
{
    struct glob_state g = {0, 0};
    if (!pattern || !path)
        return false;
    return brace_match(&g, pattern, path);
}
