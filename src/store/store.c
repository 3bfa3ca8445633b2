#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/log.h"
#include "store/cache.h"
#include "store/key.h"
#include "store/prefault.h"

#define SCHEMA_VERSION 2

enum { ENV_LOG = 0, ENV_STATE = 1 };

struct px_store {
  MDB_env *env[2];
  MDB_dbi dbi[PX_DB__COUNT];
  px_dedup *dedup; /* NULL for read-only stores */
  /* Identifier index entries this process has read or written (NULL for
   * read-only stores). Every transaction that changes the index also
   * raises the state's `wgen` counter; the cache is trusted while `wgen` is
   * the value this process last saw or wrote. Used only under the state's
   * write lock. */
  px_cache *ident_cache;
  uint64_t cache_gen;
  struct ext_slot *ext; /* px_store_ext (allocated with the store, so settable through a const store) */
  uint64_t txn_serial;
  char path[4096];
  char dedup_path[4300];
  int state_reset;
  px_prefault *prefault;
};

struct ext_slot {
  void *ptr;
  void (*destroy)(void *);
};

struct px_txn {
  px_store *st;
  uint64_t serial;
  MDB_txn *t[2];
  int mode; /* PX_TXN_* */
  int dedup_fresh; /* px_dedup_refresh done in this transaction */
  MDB_cursor *cur[PX_DB__COUNT]; /* opened on first use by px_store_get/rmw, closed at the end */
  unsigned char cached[8];       /* a value px_store_get answered from the cache */
  int ident_dirty;               /* it changed the identifier index */
  int watched;                   /* counted by the prefault thread (px_prefault_begin) */
  struct {
    const px_txn_hook *hook;
    void *arg;
  } hooks[PX_TXN_HOOKS]; /* px_txn_defer */
  int nhooks;
};

/* Whether the transaction holds the state's write lock. */
static int state_writer(const px_txn *t) { return t->mode == PX_TXN_WRITE || t->mode == PX_TXN_STATE; }

/* The layout of the derived state. A state written in another layout is
 * emptied at open and rebuilt from the log. 2: counts inside profile records. */
#define STATE_LAYOUT 7 /* 3: segment engine databases (aggs, due, seghist); 4: psegs, scores;
                          5: event name hashes in the timeline; 6: the live profiles' bitmap;
                          7: a profile's aggregation states in one record */

static const char *db_names[PX_DB__COUNT] = {
    "meta",    "events",  "ident",    "profiles", "pidents", "traits",  "timeline", "counts",
    "merges",  "pmerges", "accounts", "links",    "sources", "keys",    "config",   "meta",
    "defs",    "members", "aggs",     "due",      "seghist", "psegs",   "scores",  "products",
};

static const int db_env[PX_DB__COUNT] = {
    ENV_LOG,   ENV_LOG,   ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE,
    ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_LOG,   ENV_LOG,   ENV_LOG,   ENV_STATE,
    ENV_LOG,   ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_STATE, ENV_LOG,
};

/* Before the dedup table became a file, the state held it in this LMDB
 * database; a state that still has it is rebuilt (check_state). */
#define LEGACY_DEDUP_DB "dedup"

static const char *state_counters[] = {"applied", "pid", "merge", "account", "profiles", "merges", "layout",
                                       "wgen"};

static px_db counter_db(const char *name) {
  for (size_t i = 0; i < sizeof state_counters / sizeof *state_counters; i++)
    if (strcmp(name, state_counters[i]) == 0) return PX_DB_SMETA;
  return PX_DB_META;
}

px_status px_store_status(int rc) {
  switch (rc) {
    case MDB_SUCCESS: return PX_OK;
    case MDB_NOTFOUND: return PX_NOT_FOUND;
    case MDB_KEYEXIST: return PX_EXISTS;
    case MDB_MAP_FULL: return PX_STORE_FULL;
    case ENOMEM: return PX_NOMEM;
    case EIO:
    case ENOSPC: return PX_IO;
    default: return PX_STORE;
  }
}

/* The state is written without fsync: a process crash loses nothing (the
 * kernel holds the pages), a machine crash may damage it. So it records the
 * boot it was opened in; opened in a later boot, it is emptied and rebuilt
 * from the log. */
static int reset_state(const char *state_dir, const char *boot, const char *path, int *reset);

static int check_boot(const char *state_dir, int *reset) {
  char boot[64] = "", seen[64] = "", path[4400];
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    if (!fgets(boot, sizeof boot, f)) boot[0] = 0;
    fclose(f);
  }
  snprintf(path, sizeof path, "%s/boot_id", state_dir);
  if ((f = fopen(path, "r"))) {
    if (!fgets(seen, sizeof seen, f)) seen[0] = 0;
    fclose(f);
  }
  *reset = 0;
  if (!boot[0] || strcmp(boot, seen) == 0) return 0;
  /* Two processes starting together after a reboot: only one resets. */
  char lockpath[4400];
  snprintf(lockpath, sizeof lockpath, "%s/boot.lock", state_dir);
  int lfd = open(lockpath, O_CREAT | O_RDWR, 0640);
  if (lfd < 0) return errno;
  if (flock(lfd, LOCK_EX) != 0) {
    int e = errno;
    close(lfd);
    return e;
  }
  int rc = reset_state(state_dir, boot, path, reset);
  close(lfd); /* releases the lock */
  return rc;
}

/* Under the boot lock: re-read what the last opener recorded, and if it was
 * another boot, remove the state's files and record this boot. */
static int reset_state(const char *state_dir, const char *boot, const char *path, int *reset) {
  char seen[64] = "";
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(seen, sizeof seen, f)) seen[0] = 0;
    fclose(f);
  }
  if (strcmp(boot, seen) == 0) return 0; /* the other process did it */
  if (seen[0]) { /* written in another boot: start the state afresh */
    char db[4400];
    snprintf(db, sizeof db, "%s/data.mdb", state_dir);
    if (unlink(db) == 0) *reset = 1;
    snprintf(db, sizeof db, "%s/lock.mdb", state_dir);
    unlink(db);
    snprintf(db, sizeof db, "%s/" PX_DEDUP_FILE, state_dir);
    unlink(db);
  }
  char tmp[4500];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (!(f = fopen(tmp, "w"))) return errno;
  fputs(boot, f);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    fclose(f);
    return errno;
  }
  fclose(f);
  return rename(tmp, path) == 0 ? 0 : errno;
}

static int open_env(MDB_env **env, const char *dir, size_t map, unsigned flags) {
  int rc = mdb_env_create(env);
  if (!rc) rc = mdb_env_set_mapsize(*env, map);
  if (!rc) rc = mdb_env_set_maxdbs(*env, PX_DB__COUNT + 8);
  if (!rc) rc = mdb_env_set_maxreaders(*env, 4096); /* above the HTTP connection limit */
  /* MDB_NOTLS: read transactions are not tied to threads (HTTP worker pools). */
  if (!rc) rc = mdb_env_open(*env, dir, flags | MDB_NOTLS, 0640);
  int dead;
  if (!rc) mdb_reader_check(*env, &dead); /* slots of crashed processes */
  return rc;
}

static int put_layout(MDB_txn *txn, MDB_dbi smeta) {
  px_key v;
  px_key_init(&v);
  px_key_u64(&v, STATE_LAYOUT);
  MDB_val k = {6, "layout"}, val = {8, v.b};
  return mdb_put(txn, smeta, &k, &val, 0);
}

static uint64_t read_counter(MDB_txn *txn, MDB_dbi dbi, const char *name) {
  MDB_val k = {strlen(name), (void *)name}, v;
  return mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8 ? px_get_u64(v.mv_data) : 0;
}

/* Both write transactions, log first (the lock order of every writer):
 * while they are held no other process writes the state or the table. */
static int begin_locked(px_store *st, MDB_txn **lt, MDB_txn **stt) {
  int rc = mdb_txn_begin(st->env[ENV_LOG], NULL, 0, lt);
  if (rc) return rc;
  if ((rc = mdb_txn_begin(st->env[ENV_STATE], NULL, 0, stt))) mdb_txn_abort(*lt);
  return rc;
}

/* Empties the state (catch-up rebuilds it) when it cannot be trusted, then
 * maps the dedup table. The table must hold every event the state has
 * applied, so the state is emptied when
 * - it has applied more of the log than the log holds (an older log was
 *   restored): another history;
 * - it still has the LMDB dedup database of an earlier version: the events
 *   that version applied have no entry in the table file;
 * - it has applied events but the table file is missing or damaged.
 * The state's emptying is committed before the table file is replaced, so a
 * crash in between leaves an empty state (any table is right for it), never
 * an applied state with an empty table. */
static px_status check_state(px_store *st) {
  MDB_txn *lt, *stt;
  int rc = begin_locked(st, &lt, &stt);
  if (rc) return px_store_status(rc);
  uint64_t seq = read_counter(lt, st->dbi[PX_DB_META], "seq");
  uint64_t applied = read_counter(stt, st->dbi[PX_DB_SMETA], "applied");
  MDB_dbi legacy;
  int has_legacy = mdb_dbi_open(stt, LEGACY_DEDUP_DB, 0, &legacy) == 0;
  px_dedup *d = NULL;
  px_status s = px_dedup_open(st->dedup_path, &d);
  if (s != PX_OK && s != PX_NOT_FOUND && s != PX_STORE) {
    mdb_txn_abort(stt);
    mdb_txn_abort(lt);
    return s;
  }
  uint64_t layout = read_counter(stt, st->dbi[PX_DB_SMETA], "layout");
  const char *why = applied > seq  ? "the state is ahead of the event log (a restored log?)"
                    : has_legacy   ? "the state was written by an earlier version (dedup index in LMDB)"
                    : applied && layout != STATE_LAYOUT ? "the state was written by another version (layout)"
                    : !d && applied ? "the dedup table is missing or damaged"
                                    : NULL;
  if (!why && layout == STATE_LAYOUT) {
    mdb_txn_abort(stt);
  } else {
    if (why) {
      px_log(PX_LOG_WARN, "msg=\"%s; rebuilding the state from the event log\"", why);
      for (int i = 0; i < PX_DB__COUNT && !rc; i++)
        if (db_env[i] == ENV_STATE) rc = mdb_drop(stt, st->dbi[i], 0);
      if (!rc && has_legacy) rc = mdb_drop(stt, legacy, 1);
    }
    if (!rc) rc = put_layout(stt, st->dbi[PX_DB_SMETA]);
    if (!rc) rc = mdb_txn_commit(stt);
    else mdb_txn_abort(stt);
    if (applied > seq) st->state_reset = 1;
    px_dedup_close(d);
    d = NULL;
  }
  mdb_txn_abort(lt);
  if (rc) return px_store_status(rc);
  if (!d) {
    /* A fresh table, unless another process has applied events since (then
     * it made one, under these same locks). */
    if ((rc = begin_locked(st, &lt, &stt))) return px_store_status(rc);
    applied = read_counter(stt, st->dbi[PX_DB_SMETA], "applied");
    s = applied ? px_dedup_open(st->dedup_path, &d) : px_dedup_create(st->dedup_path, &d);
    mdb_txn_abort(stt);
    mdb_txn_abort(lt);
    if (s != PX_OK) return s == PX_NOT_FOUND ? PX_STORE : s;
  }
  st->dedup = d;
  if (!(st->ident_cache = px_cache_create((size_t)1 << 20))) return PX_NOMEM;
  return PX_OK;
}

px_status px_store_open(const char *dir, const px_store_opts *opts, px_store **out) {
  *out = NULL;
  px_store_opts def = {0};
  if (!opts) opts = &def;
  char sub[2][4200];
  if (strlen(dir) > 4000) return PX_INVALID;
  snprintf(sub[ENV_LOG], sizeof sub[0], "%s/log", dir);
  snprintf(sub[ENV_STATE], sizeof sub[1], "%s/state", dir);
  if ((mkdir(dir, 0750) != 0 && errno != EEXIST) || (mkdir(sub[0], 0750) != 0 && errno != EEXIST) ||
      (mkdir(sub[1], 0750) != 0 && errno != EEXIST))
    return PX_IO;
  px_store *st = calloc(1, sizeof *st);
  if (!st) return PX_NOMEM;
  if (!(st->ext = calloc(1, sizeof *st->ext))) {
    free(st);
    return PX_NOMEM;
  }
  snprintf(st->path, sizeof st->path, "%s", dir);
  snprintf(st->dedup_path, sizeof st->dedup_path, "%s/" PX_DEDUP_FILE, sub[ENV_STATE]);
  MDB_txn *txn = NULL;
  int rc = opts->read_only ? 0 : check_boot(sub[ENV_STATE], &st->state_reset);
  if (rc) goto fail;
  size_t map = opts->map_size ? opts->map_size : (size_t)64 << 30;
  unsigned ro = opts->read_only ? MDB_RDONLY : 0;
  if ((rc = open_env(&st->env[ENV_LOG], sub[ENV_LOG], map, ro))) goto fail;
  /* No readahead on the state: its file is sparse and grows page by page,
   * and readahead zero-filled pages around every new one (0.5 s of kernel
   * time in a 2M-event import); its reads are random B-tree descents. */
  if ((rc = open_env(&st->env[ENV_STATE], sub[ENV_STATE], map, ro | MDB_NOSYNC | MDB_WRITEMAP | MDB_NORDAHEAD)))
    goto fail;
  for (int e = 0; e < 2; e++) {
    if ((rc = mdb_txn_begin(st->env[e], NULL, ro, &txn))) goto fail;
    for (int i = 0; i < PX_DB__COUNT; i++) {
      if (db_env[i] != e) continue;
      if ((rc = mdb_dbi_open(txn, db_names[i], ro ? 0 : MDB_CREATE, &st->dbi[i]))) goto fail;
    }
    if (e == ENV_LOG && !ro) {
      MDB_val k = {6, "schema"}, v;
      rc = mdb_get(txn, st->dbi[PX_DB_META], &k, &v);
      if (rc == MDB_NOTFOUND) {
        uint32_t ver = SCHEMA_VERSION;
        v.mv_data = &ver;
        v.mv_size = sizeof ver;
        rc = mdb_put(txn, st->dbi[PX_DB_META], &k, &v, 0);
      } else if (rc == 0 && (v.mv_size != 4 || *(uint32_t *)v.mv_data != SCHEMA_VERSION)) {
        rc = EINVAL;
      }
      if (rc) goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) goto fail;
  }
  px_status s = opts->read_only ? PX_OK : check_state(st);
  if (s != PX_OK) goto fail_status;
  if (!opts->read_only && !opts->no_prefault) st->prefault = px_prefault_start(st->env[ENV_STATE]);
  *out = st;
  return PX_OK;
fail:
  s = px_store_status(rc);
  if (txn) mdb_txn_abort(txn);
fail_status:
  for (int e = 0; e < 2; e++)
    if (st->env[e]) mdb_env_close(st->env[e]);
  free(st->ext);
  free(st);
  return s;
}

void px_store_close(px_store *st) {
  if (!st) return;
  /* No sync of the state: the kernel writes it back in its own time, and
   * after a machine restart it is rebuilt whatever reached the disk. */
  px_prefault_stop(st->prefault);
  px_dedup_close(st->dedup);
  px_cache_destroy(st->ident_cache);
  if (st->ext->ptr && st->ext->destroy) st->ext->destroy(st->ext->ptr);
  free(st->ext);
  for (int e = 0; e < 2; e++) mdb_env_close(st->env[e]);
  free(st);
}

const char *px_store_path(const px_store *st) { return st->path; }

int px_store_state_was_reset(const px_store *st) { return st->state_reset; }

MDB_dbi px_store_dbi(const px_store *st, px_db db) { return st->dbi[db]; }

px_status px_store_begin(px_store *st, int mode, px_txn **out) {
  px_txn *t = calloc(1, sizeof *t);
  if (!t) return PX_NOMEM;
  t->st = st;
  t->mode = mode;
  t->serial = __atomic_add_fetch(&st->txn_serial, 1, __ATOMIC_RELAXED);
  /* Writers lock the log before the state (no lock-order deadlock between
   * processes). Readers take the state's snapshot before the log's, so the
   * log they see holds every event the state refers to; PX_TXN_STATE does
   * the same with the state's write lock (it takes no log lock at all). */
  int order[2] = {ENV_STATE, ENV_LOG};
  unsigned flags[2] = {MDB_RDONLY, MDB_RDONLY}; /* by environment */
  int n = 2;
  switch (mode) {
    case PX_TXN_WRITE:
      order[0] = ENV_LOG, order[1] = ENV_STATE;
      flags[ENV_LOG] = flags[ENV_STATE] = 0;
      break;
    case PX_TXN_LOG:
      order[0] = ENV_LOG, n = 1;
      flags[ENV_LOG] = 0;
      break;
    case PX_TXN_STATE: flags[ENV_STATE] = 0; break;
    default: break;
  }
  for (int i = 0; i < n; i++) {
    int e = order[i];
    int rc = mdb_txn_begin(st->env[e], NULL, flags[e], &t->t[e]);
    if (rc) {
      t->t[e] = NULL;
      px_store_abort(t);
      return px_store_status(rc);
    }
  }
  if (state_writer(t)) px_prefault_begin(st->prefault), t->watched = 1; /* the state may grow */
  /* Someone else changed the identifier index since we last did: forget. */
  if (state_writer(t) && st->ident_cache) {
    uint64_t gen = read_counter(t->t[ENV_STATE], st->dbi[PX_DB_SMETA], "wgen");
    if (gen != st->cache_gen) {
      px_cache_clear(st->ident_cache);
      st->cache_gen = gen;
    }
  }
  *out = t;
  return PX_OK;
}

MDB_txn *px_txn_mdb(px_txn *t, px_db db) { return t->t[db_env[db]]; }

uint64_t px_txn_serial(const px_txn *t) { return t->serial; }

void *px_store_ext(const px_store *st) { return st->ext->ptr; }

void px_store_set_ext(const px_store *st, void *ext, void (*destroy)(void *)) {
  if (st->ext->ptr && st->ext->destroy && st->ext->ptr != ext) st->ext->destroy(st->ext->ptr);
  st->ext->ptr = ext;
  st->ext->destroy = destroy;
}

px_status px_store_dedup(px_txn *t, px_dedup **out) {
  *out = NULL;
  /* The table changes only under the log's write lock. */
  if ((t->mode != PX_TXN_WRITE && t->mode != PX_TXN_LOG) || !t->st->dedup) return PX_INVALID;
  if (!t->dedup_fresh) {
    /* Under the write lock: nobody else can replace the file until the end
     * of this transaction, so once is enough. */
    px_status s = px_dedup_refresh(t->st->dedup);
    if (s != PX_OK) return s;
    t->dedup_fresh = 1;
  }
  *out = t->st->dedup;
  return PX_OK;
}

static void close_cursors(px_txn *t) {
  for (int i = 0; i < PX_DB__COUNT; i++)
    if (t->cur[i]) mdb_cursor_close(t->cur[i]);
}

px_status px_txn_defer(px_txn *t, const px_txn_hook *hook, void *arg) {
  if (t->nhooks == PX_TXN_HOOKS) return PX_TOO_LARGE;
  t->hooks[t->nhooks].hook = hook;
  t->hooks[t->nhooks++].arg = arg;
  return PX_OK;
}

void *px_txn_deferred(const px_txn *t, const px_txn_hook *hook) {
  for (int i = 0; i < t->nhooks; i++)
    if (t->hooks[i].hook == hook) return t->hooks[i].arg;
  return NULL;
}

static void discard_hooks(px_txn *t) {
  for (int i = 0; i < t->nhooks; i++)
    if (t->hooks[i].hook->discard) t->hooks[i].hook->discard(t->hooks[i].arg);
  t->nhooks = 0;
}

static void txn_free(px_txn *t) {
  if (t->watched) px_prefault_end(t->st->prefault);
  free(t);
}

px_status px_store_commit(px_txn *t) {
  for (int i = 0; i < t->nhooks; i++) {
    px_status s = t->hooks[i].hook->flush ? t->hooks[i].hook->flush(t, t->hooks[i].arg) : PX_OK;
    if (s != PX_OK) {
      px_store_abort(t);
      return s;
    }
  }
  discard_hooks(t);
  close_cursors(t);
  /* Changed the index: say so to the other processes. Should a commit
   * below fail, `wgen` stays what it was, unlike cache_gen, and the next
   * transaction empties the cache. */
  if (t->ident_dirty) {
    px_key v;
    px_key_init(&v);
    px_key_u64(&v, ++t->st->cache_gen);
    MDB_val k = {4, "wgen"}, val = {8, v.b};
    int rc = mdb_put(t->t[ENV_STATE], t->st->dbi[PX_DB_SMETA], &k, &val, 0);
    if (rc) {
      px_store_abort(t);
      return px_store_status(rc);
    }
  }
  if (t->mode == PX_TXN_STATE) { /* the log was only read */
    mdb_txn_abort(t->t[ENV_LOG]);
    int rc = mdb_txn_commit(t->t[ENV_STATE]);
    txn_free(t);
    return px_store_status(rc);
  }
  int rc = mdb_txn_commit(t->t[ENV_LOG]);
  if (rc || !t->t[ENV_STATE]) {
    if (t->t[ENV_STATE]) mdb_txn_abort(t->t[ENV_STATE]);
  } else if ((rc = mdb_txn_commit(t->t[ENV_STATE])) != 0) {
    /* The log is durable, so the transaction's events are stored: the next
     * writer's catch-up applies what the state missed. */
    px_log(PX_LOG_WARN, "msg=\"state commit failed after the log commit; catch-up will repair it\" rc=%d", rc);
    rc = 0;
  }
  txn_free(t);
  return px_store_status(rc);
}

void px_store_abort(px_txn *t) {
  if (!t) return;
  discard_hooks(t);
  close_cursors(t);
  if (state_writer(t) && t->st->ident_cache && t->t[ENV_STATE]) px_cache_clear(t->st->ident_cache);
  for (int e = 1; e >= 0; e--)
    if (t->t[e]) mdb_txn_abort(t->t[e]);
  txn_free(t);
}

/* The identifier index goes through the cache under the state's write lock. */
static px_cache *cache_for(const px_txn *txn, const px_store *st, px_db db) {
  return db == PX_DB_IDENT && state_writer(txn) ? st->ident_cache : NULL;
}

/* The transaction's cursor on db (NULL if it cannot be opened): lookups
 * through one cursor that stays open skip the tree descent when the next
 * key is on the page of the last one (keys read in order, a profile's
 * adjacent rows), which mdb_get, with a fresh cursor each time, cannot. */
static MDB_cursor *txn_cursor(px_txn *txn, const px_store *st, px_db db) {
  if (!txn->cur[db] && mdb_cursor_open(px_txn_mdb(txn, db), st->dbi[db], &txn->cur[db]) != 0) txn->cur[db] = NULL;
  return txn->cur[db];
}

MDB_cursor *px_txn_cursor(px_txn *txn, const px_store *st, px_db db) { return txn_cursor(txn, st, db); }

px_status px_store_get(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       MDB_val *out) {
  px_cache *c = cache_for(txn, st, db);
  uint64_t v;
  if (c && px_cache_get(c, k, kn, &v)) {
    memcpy(txn->cached, &v, 8);
    out->mv_data = txn->cached;
    out->mv_size = 8;
    return PX_OK;
  }
  MDB_val key = {kn, (void *)k};
  MDB_cursor *cur = txn_cursor(txn, st, db);
  int rc = cur ? mdb_cursor_get(cur, &key, out, MDB_SET) : mdb_get(px_txn_mdb(txn, db), st->dbi[db], &key, out);
  if (c && rc == 0 && out->mv_size == 8) {
    memcpy(&v, out->mv_data, 8);
    px_cache_put(c, k, kn, v);
  }
  return px_store_status(rc);
}

px_status px_store_put(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       const void *v, size_t vn, unsigned flags) {
  MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
  MDB_cursor *cur = txn_cursor(txn, st, db);
  int rc = cur ? mdb_cursor_put(cur, &key, &val, flags) : mdb_put(px_txn_mdb(txn, db), st->dbi[db], &key, &val, flags);
  px_cache *c = cache_for(txn, st, db);
  if (c) {
    uint64_t x;
    txn->ident_dirty = 1;
    if (rc == 0 && vn == 8) {
      memcpy(&x, v, 8);
      px_cache_put(c, k, kn, x);
    } else {
      px_cache_del(c, k, kn);
    }
  }
  return px_store_status(rc);
}

px_status px_store_del(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn) {
  MDB_val key = {kn, (void *)k};
  px_cache *c = cache_for(txn, st, db);
  if (c) {
    txn->ident_dirty = 1;
    px_cache_del(c, k, kn);
  }
  return px_store_status(mdb_del(px_txn_mdb(txn, db), st->dbi[db], &key, NULL));
}

px_status px_store_rmw(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn, size_t cap,
                       px_store_rmw_fn fn, void *arg) {
  unsigned char stack[1024], *buf = cap <= sizeof stack ? stack : malloc(cap);
  if (!buf) return PX_NOMEM;
  int rc = 0;
  if (!txn->cur[db]) rc = mdb_cursor_open(px_txn_mdb(txn, db), st->dbi[db], &txn->cur[db]);
  MDB_cursor *cur = txn->cur[db];
  MDB_val key = {kn, (void *)k}, v = {0, NULL};
  if (!rc) rc = mdb_cursor_get(cur, &key, &v, MDB_SET_KEY);
  if (rc == 0 || rc == MDB_NOTFOUND) {
    int existed = rc == 0;
    size_t n = fn(existed ? v.mv_data : NULL, existed ? v.mv_size : 0, buf, cap, arg);
    if (n > cap) {
      rc = EINVAL;
    } else {
      MDB_val nv = {n, buf};
      key.mv_size = kn;
      key.mv_data = (void *)k;
      /* In place when the size stays: no second descent. */
      rc = mdb_cursor_put(cur, &key, &nv, existed && n == v.mv_size ? MDB_CURRENT : 0);
    }
  }
  if (buf != stack) free(buf);
  return rc == EINVAL ? PX_INVALID : px_store_status(rc);
}

typedef struct fixed_update {
  px_store_update_fn fn;
  void *arg;
} fixed_update;

static size_t update_fixed(const void *old, size_t oldn, void *out, size_t cap, void *arg) {
  fixed_update *u = arg;
  int existed = old && oldn == cap;
  if (existed) memcpy(out, old, cap);
  else memset(out, 0, cap);
  u->fn(out, existed, u->arg);
  return cap;
}

px_status px_store_update(px_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                          size_t vsize, px_store_update_fn fn, void *arg) {
  fixed_update u = {fn, arg};
  return px_store_rmw(txn, st, db, k, kn, vsize, update_fixed, &u);
}

px_status px_store_move_prefix(px_txn *txn, const px_store *st, px_db db, uint64_t from, uint64_t to,
                               px_store_move_fn fn, void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, db), st->dbi[db], &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, from);
  MDB_val k = {pre.n, pre.b}, v;
  px_status s = PX_OK;
  char *buf = NULL;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
    if (k.mv_size < 8 || px_get_u64(k.mv_data) != from) break;
    /* Copies first: writes below may move the pages k and v point into. */
    px_key old, nk;
    px_key_init(&old);
    px_key_bytes(&old, k.mv_data, k.mv_size);
    px_key_init(&nk);
    px_key_u64(&nk, to);
    px_key_bytes(&nk, old.b + 8, old.n - 8);
    size_t vn = v.mv_size;
    free(buf);
    if (!(buf = malloc(vn ? vn : 1))) {
      s = PX_NOMEM;
      break;
    }
    memcpy(buf, v.mv_data, vn);
    if (fn) {
      MDB_val existing;
      s = px_store_get(txn, st, db, nk.b, nk.n, &existing);
      if (s != PX_OK && s != PX_NOT_FOUND) break;
      if ((s = fn(arg, old.b + 8, old.n - 8, buf, vn, s == PX_OK ? &existing : NULL)) != PX_OK) break;
    }
    if ((s = px_store_put(txn, st, db, nk.b, nk.n, buf, vn, 0)) != PX_OK) break;
    k.mv_size = old.n;
    k.mv_data = old.b;
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET)) != 0 || (rc = mdb_cursor_del(cur, 0)) != 0) {
      s = px_store_status(rc);
      break;
    }
    k.mv_size = pre.n;
    k.mv_data = pre.b;
  }
  free(buf);
  mdb_cursor_close(cur);
  if (s != PX_OK) return s;
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

px_status px_store_counter(px_txn *txn, const px_store *st, const char *name, uint64_t *out) {
  MDB_val v;
  px_status s = px_store_get(txn, st, counter_db(name), name, strlen(name), &v);
  *out = 0;
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  if (v.mv_size != 8) return PX_STORE;
  *out = px_get_u64(v.mv_data);
  return PX_OK;
}

px_status px_store_set_counter(px_txn *txn, const px_store *st, const char *name, uint64_t v) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, v);
  return px_store_put(txn, st, counter_db(name), name, strlen(name), k.b, 8, 0);
}

px_status px_store_next_id(px_txn *txn, const px_store *st, const char *name, uint64_t *out) {
  uint64_t cur;
  px_status s = px_store_counter(txn, st, name, &cur);
  if (s != PX_OK) return s;
  *out = cur + 1;
  return px_store_set_counter(txn, st, name, cur + 1);
}

px_status px_store_clear_derived(px_txn *txn, const px_store *st) {
  if (st->ident_cache) px_cache_clear(st->ident_cache);
  txn->ident_dirty = state_writer(txn); /* the index is emptied: other processes must forget it too */
  for (int i = 0; i < PX_DB__COUNT; i++) {
    if (db_env[i] != ENV_STATE) continue;
    int rc = mdb_drop(px_txn_mdb(txn, (px_db)i), st->dbi[i], 0);
    if (rc) return px_store_status(rc);
  }
  return px_store_status(put_layout(px_txn_mdb(txn, PX_DB_SMETA), st->dbi[PX_DB_SMETA]));
}

uint64_t px_store_free_bytes(const px_store *st) {
  struct statvfs v;
  if (statvfs(st->path, &v) != 0) return UINT64_MAX; /* unknown: do not block writes */
  return (uint64_t)v.f_bavail * v.f_frsize;
}

uint64_t px_store_version(const px_store *st) {
  uint64_t v = 0;
  for (int e = 0; e < 2; e++) {
    MDB_envinfo info;
    if (mdb_env_info(st->env[e], &info) == 0) v += (uint64_t)info.me_last_txnid;
  }
  return v;
}

px_status px_store_count(px_txn *txn, const px_store *st, px_db db, uint64_t *out) {
  MDB_stat ms;
  int rc = mdb_stat(px_txn_mdb(txn, db), st->dbi[db], &ms);
  if (rc) return px_store_status(rc);
  *out = ms.ms_entries;
  return PX_OK;
}
