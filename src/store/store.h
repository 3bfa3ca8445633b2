/* The embedded store: two LMDB environments in the data directory.
 *   DIR/log    the durable record: the event log, sources, keys, configuration.
 *              Every commit is fsynced; the log is only appended to.
 *   DIR/state  everything derived from the log (identifiers, profiles,
 *              timelines, merges...): committed without fsync, a cache that
 *              the log can always rebuild (it records how far it has applied
 *              the log; see px_pipeline_catch_up). Beside it, the dedup
 *              table (dedup.h), a hash table file outside LMDB.
 * A px_txn spans both: write transactions take the log's lock first, then
 * the state's, and commit the log first. One writer at a time (across
 * processes too), lock-free readers. See docs/internals/store.md. */
#ifndef PX_STORE_STORE_H
#define PX_STORE_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/dedup.h"

typedef enum px_db {
  PX_DB_META,      /* log: counters ("seq", "source", "config"), schema version */
  PX_DB_EVENTS,    /* log: seq u64be -> event record (px_event_rec header + JSON) */
  PX_DB_IDENT,     /* kind NUL value -> profile id u64be */
  PX_DB_PROFILES,  /* profile id u64be -> px_profile_rec */
  PX_DB_PIDENTS,   /* profile id + kind NUL value -> px_obs (first/last seen, source) */
  PX_DB_TRAITS,    /* entity id + name NUL + value hash u64be + source u32be -> px_obs + JSON */
  PX_DB_TIMELINE,  /* profile id + timestamp (sortable) + seq -> event type u8 */
  PX_DB_COUNTS,    /* profile id + class u8 + name -> u64 */
  PX_DB_MERGES,    /* merge id u64be -> JSON audit record */
  PX_DB_PMERGES,   /* profile id + merge id -> empty: merges touching the profile */
  PX_DB_ACCOUNTS,  /* group id -> account entity id u64be */
  PX_DB_LINKS,     /* profile id + account id -> px_obs */
  PX_DB_SOURCES,   /* source id u32be -> JSON {name, priority, created} */
  PX_DB_KEYS,      /* blake2b(secret) -> px_key_rec */
  PX_DB_CONFIG,    /* log: "current" -> JSON configuration */
  PX_DB_SMETA,     /* state: counters ("applied", "pid", "merge", ...) */
  PX_DB_DEFS,      /* log: kind u8 + name -> JSON definition (segments, computed traits, ...) */
  PX_DB_MEMBERS,   /* state: segment id u32be + chunk u32be (pid >> 16) -> roaring bitmap of pid & 0xffff;
                      segment id + 0xffffffff -> member count u64 */
  PX_DB_AGGS,      /* state: profile id u64be -> its aggregation states, in key order: aggregation key u64be +
                      length u32be + state (src/compute; segment/states.c) */
  PX_DB_DUE,       /* state: 'd' + due ms (sortable i64) + profile id -> empty: profiles to re-evaluate when
                      time passes; 'p' + profile id -> its due ms (sortable i64) */
  PX_DB_SEGHIST,   /* state: profile id + time (sortable i64) + cause seq u64be + segment id u32be ->
                      membership change (segment/engine.h) */
  PX_DB_PSEGS,     /* state: profile id u64be -> the segment ids (u32be, ascending) the profile is in */
  PX_DB_SCORES,    /* state: profile id u64be + score name -> score value (src/score) */
  PX_DB_PRODUCTS,  /* log: product id -> product record (src/catalog/catalog.h) */
  PX_DB__COUNT
} px_db;

typedef struct px_store px_store;
typedef struct px_txn px_txn; /* a transaction over both environments */

typedef struct px_store_opts {
  size_t map_size;  /* bytes of address space for the map; 0 = default (64 GiB) */
  int read_only;
  int no_prefault; /* no thread faulting the state's pages in ahead of its writer (store/prefault.h) */
} px_store_opts;

px_status px_store_open(const char *dir, const px_store_opts *opts, px_store **out);
void px_store_close(px_store *st);
const char *px_store_path(const px_store *st);

MDB_dbi px_store_dbi(const px_store *st, px_db db);
/* What a transaction may do. PX_TXN_WRITE holds both write locks (log,
 * then state), as every writer normally does. A bulk import splits the work
 * between two threads: PX_TXN_LOG holds only the log's write lock (append
 * events and use the dedup table; no state), PX_TXN_STATE only the state's,
 * with a snapshot of the log to read (derive events already logged). */
enum { PX_TXN_READ = 0, PX_TXN_WRITE = 1, PX_TXN_LOG = 2, PX_TXN_STATE = 3 };
px_status px_store_begin(px_store *st, int mode, px_txn **out);
/* Commits the log part (fsync), then the state part; frees txn either way. */
px_status px_store_commit(px_txn *txn);
/* Aborts and frees; accepts NULL. */
void px_store_abort(px_txn *txn);
/* The LMDB transaction holding db, for cursors. Valid until the px_txn ends. */
MDB_txn *px_txn_mdb(px_txn *txn, px_db db);
/* The transaction's own cursor on db, the one px_store_get/put use (opened
 * on first use, closed when the transaction ends; NULL if it cannot be
 * opened). A short walk that starts with a seek can use it instead of a
 * cursor of its own: a seek near where the last one ended skips the tree
 * descent. Any store call on db moves it; never close it. */
MDB_cursor *px_txn_cursor(px_txn *txn, const px_store *st, px_db db);
/* The dedup table, for a write transaction only (PX_INVALID otherwise),
 * remapped first if another process replaced its file (checked once per
 * transaction). Valid until the transaction ends. */
px_status px_store_dedup(px_txn *txn, px_dedup **out);
/* 1 when opening found the state written before the machine restarted (it
 * may be damaged: it was emptied, to be rebuilt from the log). */
int px_store_state_was_reset(const px_store *st);

/* Maps an LMDB return code to a px_status (MDB_NOTFOUND -> PX_NOT_FOUND). */
px_status px_store_status(int rc);

/* Thin wrappers: out is valid until the transaction ends or the next write. */
px_status px_store_get(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       MDB_val *out);
px_status px_store_put(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       const void *v, size_t vn, unsigned flags);
px_status px_store_del(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn);

/* Read-modify-write of one value with one tree descent (write transactions
 * only): fn gets the current value (NULL, 0 when absent; valid only during
 * the call) and writes the new one into out (at most cap bytes), returning
 * its size. */
typedef size_t (*px_store_rmw_fn)(const void *old, size_t oldn, void *out, size_t cap, void *arg);
px_status px_store_rmw(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn, size_t cap,
                       px_store_rmw_fn fn, void *arg);

/* The same for a fixed-size record: fn gets the current value (zeroed when
 * absent or of another size, existed 0) to change in place. */
typedef void (*px_store_update_fn)(void *value, int existed, void *arg);
px_status px_store_update(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                          size_t vsize, px_store_update_fn fn, void *arg);

/* Moving an entity's rows (keys that start with its 8-byte id) to another id,
 * as merges do. fn (may be NULL) sees each row before it moves: rest is the
 * key after the id, value a private copy to change in place, existing the
 * destination's current value or NULL; fn may also write elsewhere. */
typedef px_status (*px_store_move_fn)(void *arg, const void *rest, size_t rn, void *value, size_t vn,
                                      const MDB_val *existing);
px_status px_store_move_prefix(px_txn *txn, const px_store *st, px_db db, uint64_t from, uint64_t to,
                               px_store_move_fn fn, void *arg);

/* Counters: *out = ++counter (first value is 1). Counters of derived data
 * ("applied", "pid", "merge", "account", "profiles", "merges") live in the
 * state, the others ("seq", "source", "config") in the log. */
px_status px_store_next_id(px_txn *txn, const px_store *st, const char *name, uint64_t *out);
/* Reads a counter without changing it (0 when never set). */
px_status px_store_counter(px_txn *txn, const px_store *st, const char *name, uint64_t *out);
px_status px_store_set_counter(px_txn *txn, const px_store *st, const char *name, uint64_t v);

/* Empties the whole state (every database derived from the event log and
 * its counters, "applied" included), so catching up rebuilds it. The dedup
 * table is kept: it depends on the log alone (its entries are verified
 * against it), and emptying it inside a transaction that may still abort
 * would lose the entries of events the surviving state has applied. */
px_status px_store_clear_derived(px_txn *txn, const px_store *st);

/* A per-process object a higher layer keeps with the store (the segment
 * engine's registry of compiled definitions), destroyed by px_store_close.
 * Like the identifier cache it is used only under the state's write lock,
 * which serializes its users across threads. */
void *px_store_ext(const px_store *st);
void px_store_set_ext(const px_store *st, void *ext, void (*destroy)(void *));
/* A number unique to the transaction within the process (never reused), so
 * that a per-process cache can check something once per transaction. */
uint64_t px_txn_serial(const px_txn *txn);

/* Work a higher layer defers to the end of a write transaction (a
 * write-behind cache, such as segment membership bitmaps changed by many
 * events of one transaction). px_store_commit runs every flush first, in
 * the order deferred; a failure aborts the transaction and is returned.
 * discard runs when the transaction ends either way (after flush when
 * committing). hook identifies the registration (a static object); at most
 * PX_TXN_HOOKS a transaction (PX_TOO_LARGE past that). */
#define PX_TXN_HOOKS 4
typedef struct px_txn_hook {
  px_status (*flush)(px_txn *txn, void *arg);
  void (*discard)(void *arg);
} px_txn_hook;
px_status px_txn_defer(px_txn *txn, const px_txn_hook *hook, void *arg);
/* The arg deferred with hook in txn, or NULL. */
void *px_txn_deferred(const px_txn *txn, const px_txn_hook *hook);

/* Free bytes available to the store's file system. */
uint64_t px_store_free_bytes(const px_store *st);

/* A number that grows with every committed write to either environment
 * (events, definitions, products, the state derived from them...), by this
 * process or another: a cheap way to tell whether anything changed since
 * it was last read. */
uint64_t px_store_version(const px_store *st);

/* Number of entries in a database. */
px_status px_store_count(px_txn *txn, const px_store *st, px_db db, uint64_t *out);

#endif
