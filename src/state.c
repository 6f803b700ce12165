/* state.c - see state.h */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static pthread_mutex_t state_tx_lock;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_lock_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&state_tx_lock, &a);
    pthread_mutexattr_destroy(&a);
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) && errno != EEXIST)
        return -errno;
    return 0;
}

int state_open(const char *dir, sqlite3 **out)
{
    char path[PATH_MAX];
    *out = NULL;
    pthread_once(&state_once, state_lock_init);
    int rc = mkdir_p(dir, 0700);
    if (rc) {
        log_err("cannot create state folder '%s': %s", dir, strerror(-rc));
        return rc;
    }
    chmod(dir, 0700);
    int n = snprintf(path, sizeof path, "%s/state.db", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    /* Create the file 0600 ourselves so SQLite never makes it wider. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        log_err("cannot open state store '%s': %s", path, strerror(errno));
        return rc;
    }
    fchmod(fd, 0600);
    close(fd);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        log_err("cannot open state store '%s': %s", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    if (state_exec(db, "PRAGMA journal_mode=WAL") ||
        state_exec(db, "PRAGMA synchronous=NORMAL") ||
        state_exec(db, "PRAGMA foreign_keys=ON")) {
        sqlite3_close(db);
        return -EIO;
    }
    /* The WAL and shared-memory files inherit nothing: tighten them. */
    char side[PATH_MAX + 8];
    snprintf(side, sizeof side, "%s-wal", path);
    chmod(side, 0600);
    snprintf(side, sizeof side, "%s-shm", path);
    chmod(side, 0600);
    *out = db;
    return 0;
}

int state_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_err("state store: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

int state_begin(sqlite3 *db)
{
    pthread_mutex_lock(&state_tx_lock);
    int rc = state_exec(db, "BEGIN IMMEDIATE");
    if (rc)
        pthread_mutex_unlock(&state_tx_lock);
    return rc;
}

int state_commit(sqlite3 *db)
{
    int rc = state_exec(db, "COMMIT");
    if (rc)
        state_exec(db, "ROLLBACK");
    pthread_mutex_unlock(&state_tx_lock);
    return rc;
}

void state_rollback(sqlite3 *db)
{
    state_exec(db, "ROLLBACK");
    pthread_mutex_unlock(&state_tx_lock);
}

void state_close(sqlite3 *db)
{
    sqlite3_close(db);
}
