/* state.h - the state store: one SQLite database under state_dir
 * (state.db, mode 0600; the folder 0700) holding the catalog, the
 * crawlers' memory of objects, and job runs.  It survives a remount.
 *
 * The connection is opened in serialized mode (SQLITE_OPEN_FULLMUTEX), so
 * any thread may use it; multi-statement updates go through
 * state_begin()/state_commit().  Each module creates its own tables with
 * CREATE TABLE IF NOT EXISTS at init. */
#ifndef GLUEFS_STATE_H
#define GLUEFS_STATE_H

#include <sqlite3.h>

/* Open (creating if needed) DIR/state.db.  Returns 0 or -errno. */
int state_open(const char *dir, sqlite3 **out);

/* Run SQL with no result rows.  Returns 0 or -EIO (logged). */
int state_exec(sqlite3 *db, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK, serialised by a process-wide
 * recursive lock so that threads do not interleave transactions. */
int state_begin(sqlite3 *db);
int state_commit(sqlite3 *db);
void state_rollback(sqlite3 *db);

void state_close(sqlite3 *db);

#endif
