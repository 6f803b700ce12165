/* attrcache.c - attribute and listing caches; see attrcache.h
 *
 * Two hash tables (chained, FNV-1a on the path) with one LRU list each,
 * under one mutex.  Expired entries are dropped when met. */
#include "attrcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

struct node {
    struct node *hnext;          /* hash chain */
    struct node *prev, *next;    /* LRU list, most recent at head */
    uint64_t hash;
    double expires;              /* monotonic seconds */
    struct attr a;               /* attribute table */
    struct listing *l;           /* listing table */
    char path[];                 /* NUL-terminated */
};

struct table {
    struct node **slots;
    size_t nslots;               /* power of two */
    size_t count;
    struct node *head, *tail;
};

struct attrcache {
    pthread_mutex_t lock;
    struct table attrs, lists;
    size_t max_attrs;
    size_t max_rows, rows;       /* listing rows held */
};

static uint64_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int table_init(struct table *t, size_t nslots)
{
    memset(t, 0, sizeof *t);
    t->slots = calloc(nslots, sizeof *t->slots);
    if (!t->slots)
        return -ENOMEM;
    t->nslots = nslots;
    return 0;
}

static void lru_unlink(struct table *t, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        t->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        t->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push(struct table *t, struct node *n)
{
    n->prev = NULL;
    n->next = t->head;
    if (t->head)
        t->head->prev = n;
    t->head = n;
    if (!t->tail)
        t->tail = n;
}

static struct node *table_find(struct table *t, const char *path, uint64_t h)
{
    for (struct node *n = t->slots[h & (t->nslots - 1)]; n; n = n->hnext)
        if (n->hash == h && !strcmp(n->path, path))
            return n;
    return NULL;
}

/* Unhook N from T (does not free it). */
static void table_remove(struct table *t, struct node *n)
{
    struct node **pp = &t->slots[n->hash & (t->nslots - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = n->hnext;
    lru_unlink(t, n);
    t->count--;
}

static void table_grow(struct table *t)
{
    size_t ns = t->nslots * 2;
    struct node **slots = calloc(ns, sizeof *slots);
    if (!slots)
        return; /* chains just get longer */
    for (size_t i = 0; i < t->nslots; i++) {
        struct node *n = t->slots[i];
        while (n) {
            struct node *next = n->hnext;
            n->hnext = slots[n->hash & (ns - 1)];
            slots[n->hash & (ns - 1)] = n;
            n = next;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
}

static void table_insert(struct table *t, struct node *n)
{
    if (t->count >= t->nslots)
        table_grow(t);
    size_t i = n->hash & (t->nslots - 1);
    n->hnext = t->slots[i];
    t->slots[i] = n;
    lru_push(t, n);
    t->count++;
}

static void node_free(struct attrcache *c, struct node *n)
{
    if (n->l) {
        c->rows -= n->l->n;
        listing_unref(n->l);
    }
    free(n);
}

int attrcache_new(size_t max_attrs, size_t max_listing_entries,
                  struct attrcache **out)
{
    *out = NULL;
    struct attrcache *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (table_init(&c->attrs, 1024) || table_init(&c->lists, 64)) {
        free(c->attrs.slots);
        free(c);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->max_attrs = max_attrs ? max_attrs : 1;
    c->max_rows = max_listing_entries;
    *out = c;
    return 0;
}

static void table_clear(struct attrcache *c, struct table *t)
{
    struct node *n = t->head;
    while (n) {
        struct node *next = n->next;
        node_free(c, n);
        n = next;
    }
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->count = 0;
    t->head = t->tail = NULL;
}

void attrcache_free(struct attrcache *c)
{
    if (!c)
        return;
    table_clear(c, &c->attrs);
    table_clear(c, &c->lists);
    free(c->attrs.slots);
    free(c->lists.slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void attrcache_clear(struct attrcache *c)
{
    pthread_mutex_lock(&c->lock);
    table_clear(c, &c->attrs);
    table_clear(c, &c->lists);
    pthread_mutex_unlock(&c->lock);
}

static struct node *node_new(const char *path, uint64_t h)
{
    size_t len = strlen(path);
    struct node *n = calloc(1, sizeof *n + len + 1);
    if (!n)
        return NULL;
    memcpy(n->path, path, len + 1);
    n->hash = h;
    return n;
}

void attrcache_put(struct attrcache *c, const char *path, const struct attr *a,
                   double ttl, bool keep_meta)
{
    if (ttl <= 0)
        return;
    uint64_t h = hash_path(path);
    double t = clock_mono_s();
    pthread_mutex_lock(&c->lock);
    struct node *n = table_find(&c->attrs, path, h);
    if (n) {
        struct store_meta old = n->a.meta;
        bool same = n->a.kind == a->kind && !strcmp(n->a.etag, a->etag) &&
                    n->expires > t;
        n->a = *a;
        if (keep_meta && same)
            n->a.meta = old;
        n->expires = t + ttl;
        lru_unlink(&c->attrs, n);
        lru_push(&c->attrs, n);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    while (c->attrs.count >= c->max_attrs && c->attrs.tail) {
        struct node *old = c->attrs.tail;
        table_remove(&c->attrs, old);
        node_free(c, old);
    }
    n = node_new(path, h);
    if (n) {
        n->a = *a;
        n->expires = t + ttl;
        table_insert(&c->attrs, n);
    }
    pthread_mutex_unlock(&c->lock);
}

int attrcache_get(struct attrcache *c, const char *path, struct attr *out)
{
    uint64_t h = hash_path(path);
    double t = clock_mono_s();
    int rc = -ENOENT;
    pthread_mutex_lock(&c->lock);
    struct node *n = table_find(&c->attrs, path, h);
    if (n && n->expires <= t) {
        table_remove(&c->attrs, n);
        node_free(c, n);
        n = NULL;
    }
    if (n) {
        *out = n->a;
        lru_unlink(&c->attrs, n);
        lru_push(&c->attrs, n);
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void drop_in(struct attrcache *c, struct table *t, const char *path)
{
    uint64_t h = hash_path(path);
    pthread_mutex_lock(&c->lock);
    struct node *n = table_find(t, path, h);
    if (n) {
        table_remove(t, n);
        node_free(c, n);
    }
    pthread_mutex_unlock(&c->lock);
}

void attrcache_drop(struct attrcache *c, const char *path)
{
    drop_in(c, &c->attrs, path);
}

void attrcache_drop_listing(struct attrcache *c, const char *path)
{
    drop_in(c, &c->lists, path);
}

/* ---- listings ---- */

static int entry_cmp(const void *pa, const void *pb)
{
    const struct listing_entry *a = pa, *b = pb;
    int r = strcmp(a->name, b->name);
    if (r)
        return r;
    /* Folders first, so that the merge below keeps them. */
    return (int)b->is_dir - (int)a->is_dir;
}

struct listing *listing_build(const struct listing_entry *e, size_t n)
{
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += strlen(e[i].name) + 1 + strlen(e[i].etag ? e[i].etag : "") + 1;
    size_t bytes = sizeof(struct listing) + n * sizeof(struct listing_entry) +
                   text;
    struct listing *l = malloc(bytes);
    if (!l)
        return NULL;
    l->refs = 1;
    l->e = (struct listing_entry *)(l + 1);
    l->bytes = bytes;
    char *p = (char *)(l->e + n);
    for (size_t i = 0; i < n; i++) {
        l->e[i] = e[i];
        size_t len = strlen(e[i].name) + 1;
        memcpy(p, e[i].name, len);
        l->e[i].name = p;
        p += len;
        const char *et = e[i].etag ? e[i].etag : "";
        len = strlen(et) + 1;
        memcpy(p, et, len);
        l->e[i].etag = p;
        p += len;
    }
    if (n > 1)
        qsort(l->e, n, sizeof *l->e, entry_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!w || strcmp(l->e[w - 1].name, l->e[i].name))
            l->e[w++] = l->e[i];
    l->n = w;
    return l;
}

struct listing *listing_patch(const struct listing *l, const char *name,
                              const struct listing_entry *e)
{
    struct listing_entry *v = malloc((l->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, name))
            v[n++] = l->e[i];
    if (e) {
        v[n] = *e;
        v[n].name = name;
        n++;
    }
    struct listing *out = listing_build(v, n); /* copies the strings */
    free(v);
    return out;
}

/* Reference counts change under the cache lock or before the listing is
 * shared; atomics make listing_unref safe from any thread. */
void listing_ref(struct listing *l)
{
    __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
}

void listing_unref(struct listing *l)
{
    if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(l);
}

const struct listing_entry *listing_find(const struct listing *l,
                                         const char *name)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(l->e[mid].name, name);
        if (!r)
            return &l->e[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void attrcache_put_listing(struct attrcache *c, const char *path,
                           struct listing *l, double ttl)
{
    if (ttl <= 0 || l->n > c->max_rows)
        return;
    uint64_t h = hash_path(path);
    struct node *n = node_new(path, h);
    if (!n)
        return;
    listing_ref(l);
    n->l = l;
    n->expires = clock_mono_s() + ttl;
    pthread_mutex_lock(&c->lock);
    struct node *old = table_find(&c->lists, path, h);
    if (old) {
        table_remove(&c->lists, old);
        node_free(c, old);
    }
    while (c->rows + l->n > c->max_rows && c->lists.tail) {
        old = c->lists.tail;
        table_remove(&c->lists, old);
        node_free(c, old);
    }
    table_insert(&c->lists, n);
    c->rows += l->n;
    pthread_mutex_unlock(&c->lock);
}

struct listing *attrcache_get_listing(struct attrcache *c, const char *path)
{
    double left;
    return attrcache_get_listing_ttl(c, path, &left);
}

struct listing *attrcache_get_listing_ttl(struct attrcache *c,
                                          const char *path, double *ttl_left)
{
    *ttl_left = 0;
    uint64_t h = hash_path(path);
    double t = clock_mono_s();
    struct listing *l = NULL;
    pthread_mutex_lock(&c->lock);
    struct node *n = table_find(&c->lists, path, h);
    if (n && n->expires <= t) {
        table_remove(&c->lists, n);
        node_free(c, n);
        n = NULL;
    }
    if (n) {
        l = n->l;
        listing_ref(l);
        *ttl_left = n->expires - t;
        lru_unlink(&c->lists, n);
        lru_push(&c->lists, n);
    }
    pthread_mutex_unlock(&c->lock);
    return l;
}

size_t attrcache_count(struct attrcache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->attrs.count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t attrcache_listing_count(struct attrcache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->lists.count;
    pthread_mutex_unlock(&c->lock);
    return n;
}
