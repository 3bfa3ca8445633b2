#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/key.h"

#define SCHEMA_VERSION 1

struct px_store {
  MDB_env *env;
  MDB_dbi dbi[PX_DB__COUNT];
  char path[4096];
};

static const char *db_names[PX_DB__COUNT] = {
    "meta",     "events",  "dedup",    "ident", "profiles", "pidents", "traits", "timeline",
    "counts",   "merges",  "pmerges",  "accounts", "links",  "sources", "keys",   "config",
};

static const px_db derived[] = {PX_DB_IDENT,  PX_DB_PROFILES, PX_DB_PIDENTS, PX_DB_TRAITS,
                                PX_DB_TIMELINE, PX_DB_COUNTS, PX_DB_MERGES,  PX_DB_PMERGES,
                                PX_DB_ACCOUNTS, PX_DB_LINKS};
static const char *derived_counters[] = {"pid", "merge", "account", "profiles", "merges"};

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

px_status px_store_open(const char *dir, const px_store_opts *opts, px_store **out) {
  *out = NULL;
  px_store_opts def = {0};
  if (!opts) opts = &def;
  if (mkdir(dir, 0750) != 0 && errno != EEXIST) return PX_IO;
  px_store *st = calloc(1, sizeof *st);
  if (!st) return PX_NOMEM;
  snprintf(st->path, sizeof st->path, "%s", dir);
  MDB_txn *txn = NULL;
  int rc = mdb_env_create(&st->env);
  if (rc) goto fail;
  size_t map = opts->map_size ? opts->map_size : (size_t)64 << 30;
  if ((rc = mdb_env_set_mapsize(st->env, map))) goto fail;
  if ((rc = mdb_env_set_maxdbs(st->env, PX_DB__COUNT + 8))) goto fail;
  if ((rc = mdb_env_set_maxreaders(st->env, 512))) goto fail;
  /* MDB_NOTLS: read transactions are not tied to threads (HTTP worker pools). */
  unsigned flags = MDB_NOTLS | (opts->read_only ? MDB_RDONLY : 0);
  if ((rc = mdb_env_open(st->env, dir, flags, 0640))) goto fail;
  if ((rc = mdb_txn_begin(st->env, NULL, opts->read_only ? MDB_RDONLY : 0, &txn))) goto fail;
  for (int i = 0; i < PX_DB__COUNT; i++) {
    rc = mdb_dbi_open(txn, db_names[i], opts->read_only ? 0 : MDB_CREATE, &st->dbi[i]);
    if (rc) goto fail;
  }
  if (!opts->read_only) {
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
  *out = st;
  return PX_OK;
fail:
  if (txn) mdb_txn_abort(txn);
  if (st->env) mdb_env_close(st->env);
  free(st);
  return px_store_status(rc);
}

void px_store_close(px_store *st) {
  if (!st) return;
  mdb_env_close(st->env);
  free(st);
}

const char *px_store_path(const px_store *st) { return st->path; }

MDB_dbi px_store_dbi(const px_store *st, px_db db) { return st->dbi[db]; }

px_status px_store_begin(px_store *st, int write, MDB_txn **out) {
  return px_store_status(mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, out));
}

px_status px_store_commit(MDB_txn *txn) { return px_store_status(mdb_txn_commit(txn)); }

void px_store_abort(MDB_txn *txn) {
  if (txn) mdb_txn_abort(txn);
}

px_status px_store_get(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       MDB_val *out) {
  MDB_val key = {kn, (void *)k};
  return px_store_status(mdb_get(txn, st->dbi[db], &key, out));
}

px_status px_store_put(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                       const void *v, size_t vn, unsigned flags) {
  MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
  return px_store_status(mdb_put(txn, st->dbi[db], &key, &val, flags));
}

px_status px_store_del(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn) {
  MDB_val key = {kn, (void *)k};
  return px_store_status(mdb_del(txn, st->dbi[db], &key, NULL));
}

px_status px_store_update(MDB_txn *txn, const px_store *st, px_db db, const void *k, size_t kn,
                          size_t vsize, px_store_update_fn fn, void *arg) {
  unsigned char buf[512];
  if (vsize > sizeof buf) return PX_INVALID;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[db], &cur);
  if (rc) return px_store_status(rc);
  MDB_val key = {kn, (void *)k}, v;
  rc = mdb_cursor_get(cur, &key, &v, MDB_SET_KEY);
  int existed = rc == 0 && v.mv_size == vsize;
  if (rc != 0 && rc != MDB_NOTFOUND) goto out;
  memset(buf, 0, vsize);
  if (existed) memcpy(buf, v.mv_data, vsize);
  fn(buf, existed, arg);
  MDB_val nv = {vsize, buf};
  key.mv_size = kn;
  key.mv_data = (void *)k;
  rc = mdb_cursor_put(cur, &key, &nv, existed ? MDB_CURRENT : 0);
out:
  mdb_cursor_close(cur);
  return px_store_status(rc);
}

px_status px_store_move_prefix(MDB_txn *txn, const px_store *st, px_db db, uint64_t from, uint64_t to,
                               px_store_move_fn fn, void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[db], &cur);
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

px_status px_store_counter(MDB_txn *txn, const px_store *st, const char *name, uint64_t *out) {
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_META, name, strlen(name), &v);
  *out = 0;
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  if (v.mv_size != 8) return PX_STORE;
  *out = px_get_u64(v.mv_data);
  return PX_OK;
}

px_status px_store_set_counter(MDB_txn *txn, const px_store *st, const char *name, uint64_t v) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, v);
  return px_store_put(txn, st, PX_DB_META, name, strlen(name), k.b, 8, 0);
}

px_status px_store_next_id(MDB_txn *txn, const px_store *st, const char *name, uint64_t *out) {
  uint64_t cur;
  px_status s = px_store_counter(txn, st, name, &cur);
  if (s != PX_OK) return s;
  *out = cur + 1;
  return px_store_set_counter(txn, st, name, cur + 1);
}

px_status px_store_clear_derived(MDB_txn *txn, const px_store *st) {
  for (size_t i = 0; i < sizeof derived / sizeof *derived; i++) {
    int rc = mdb_drop(txn, st->dbi[derived[i]], 0);
    if (rc) return px_store_status(rc);
  }
  for (size_t i = 0; i < sizeof derived_counters / sizeof *derived_counters; i++) {
    px_status s = px_store_del(txn, st, PX_DB_META, derived_counters[i], strlen(derived_counters[i]));
    if (s != PX_OK && s != PX_NOT_FOUND) return s;
  }
  return PX_OK;
}

px_status px_store_count(MDB_txn *txn, const px_store *st, px_db db, uint64_t *out) {
  MDB_stat ms;
  int rc = mdb_stat(txn, st->dbi[db], &ms);
  if (rc) return px_store_status(rc);
  *out = ms.ms_entries;
  return PX_OK;
}
