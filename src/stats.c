/* stats.c - see stats.h */
#include "stats.h"

static uint64_t counters[STAT__COUNT];

static const char *const names[STAT__COUNT] = {
#define STAT_NAME(n) #n,
    STATS_LIST(STAT_NAME)
#undef STAT_NAME
};

void stats_add(enum stat_id id, uint64_t n)
{
    __atomic_add_fetch(&counters[id], n, __ATOMIC_RELAXED);
}

uint64_t stats_get(enum stat_id id)
{
    return __atomic_load_n(&counters[id], __ATOMIC_RELAXED);
}

int stats_render(struct buf *out)
{
    for (int i = 0; i < STAT__COUNT; i++) {
        int rc = buf_printf(out, "%s %llu\n", names[i],
                            (unsigned long long)stats_get((enum stat_id)i));
        if (rc)
            return rc;
    }
    return 0;
}
