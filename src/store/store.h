/* The embedded store: one LMDB environment in the data directory, with a
 * named database per concern. One writer at a time (across processes too),
 * lock-free readers on committed snapshots. See docs/internals/store.md. */
#ifndef PX_STORE_STORE_H
#define PX_STORE_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum px_db {
  PX_DB_META,      /* name -> value: counters ("seq", "pid", ...), schema version */
  PX_DB_EVENTS,    /* seq u64be -> event record (px_event_rec header + JSON) */
  PX_DB_DEDUP,     /* source u32be + messageId -> seq u64be */
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
  PX_DB_CONFIG,    /* "current" -> JSON configuration */
  PX_DB__COUNT
} px_db;

typedef struct px_store px_store;

typedef struct px_store_opts {
  size_t map_size;  /* bytes of address space for the map; 0 = default (64 GiB) */
  int read_only;
} px_store_opts;

px_status px_store_open(const char *dir, const px_store_opts *opts, px_store **out);
void px_store_close(px_store *st);
const char *px_store_path(const px_store *st);

MDB_dbi px_store_dbi(const px_store *st, px_db db);
px_status px_store_begin(px_store *st, int write, MDB_txn **out);
px_status px_store_commit(MDB_txn *txn);
void px_store_abort(MDB_txn *txn);

/* Maps an LMDB return code to a px_status (MDB_NOTFOUND -> PX_NOT_FOUND). */
px_status px_store_status(int rc);

/* Thin wrappers: out is valid until the transaction ends or the next write. */
px_status px_store_get(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       MDB_val *out);
px_status px_store_put(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       const void *v, size_t vn, unsigned flags);
px_status px_store_del(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn);

/* Read-modify-write of a fixed-size record with one tree descent: fn gets
 * the current value (zeroed when absent, *existed 0) to change in place. */
typedef void (*px_store_update_fn)(void *value, int existed, void *arg);
px_status px_store_update(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                          size_t vsize, px_store_update_fn fn, void *arg);

/* Moving an entity's rows (keys that start with its 8-byte id) to another id,
 * as merges do. fn (may be NULL) sees each row before it moves: rest is the
 * key after the id, value a private copy to change in place, existing the
 * destination's current value or NULL; fn may also write elsewhere. */
typedef px_status (*px_store_move_fn)(void *arg, const void *rest, size_t rn, void *value, size_t vn,
                                      const MDB_val *existing);
px_status px_store_move_prefix(MDB_txn *txn, const px_store *st, px_db db, uint64_t from, uint64_t to,
                               px_store_move_fn fn, void *arg);

/* Meta counters: *out = ++counter (first value is 1). */
px_status px_store_next_id(MDB_txn *txn, const px_store *st, const char *name, uint64_t *out);
/* Reads a counter without changing it (0 when never set). */
px_status px_store_counter(MDB_txn *txn, const px_store *st, const char *name, uint64_t *out);
px_status px_store_set_counter(MDB_txn *txn, const px_store *st, const char *name, uint64_t v);

/* Empties every database derived from the event log (profiles, identifiers,
 * traits, timeline, counts, merges, accounts, links) and their counters, so a
 * replay of the event log rebuilds them. */
px_status px_store_clear_derived(MDB_txn *txn, const px_store *st);

/* Number of entries in a database. */
px_status px_store_count(MDB_txn *txn, const px_store *st, px_db db, uint64_t *out);

#endif
