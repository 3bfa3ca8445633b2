#include "segment/def.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "store/key.h"

/* Stored: {"id", "version", "created", "updated", "definition": body}. */

/* j as compact JSON in malloc'd memory (cJSON's own may be an arena's). */
static char *print_owned(const cJSON *j) {
  char *p = cJSON_PrintUnformatted(j), *copy = p ? strdup(p) : NULL;
  cJSON_free(p);
  return copy;
}

int px_def_name_ok(const char *name) {
  size_t n = strlen(name);
  if (!n || n >= PX_DEF_NAME_MAX || name[0] == '.') return 0;
  return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
}

static void def_key(px_key *k, px_def_kind kind, const char *name) {
  px_key_init(k);
  px_key_u8(k, (uint8_t)kind);
  px_key_bytes(k, name, strlen(name));
}

static const char *counter_of(px_def_kind kind) {
  switch (kind) {
    case PX_DEF_SEGMENT: return "def.segment";
    case PX_DEF_CTRAIT: return "def.ctrait";
    case PX_DEF_MAPPING: return "def.mapping";
    case PX_DEF_RFM: return "def.rfm";
    case PX_DEF_CLV: return "def.clv";
    case PX_DEF_ENGAGEMENT: return "def.engagement";
    case PX_DEF_JOURNEY: return "def.journey";
    case PX_DEF_RECS: return "def.recs";
  }
  return "def.other";
}

/* A stored record into d (name given). */
static px_status decode(px_def_kind kind, const char *name, size_t name_len, const void *v, size_t n, px_def *d) {
  memset(d, 0, sizeof *d);
  cJSON *j = cJSON_ParseWithLength(v, n);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"), *ver = cJSON_GetObjectItemCaseSensitive(j, "version"),
              *body = cJSON_GetObjectItemCaseSensitive(j, "definition");
  const char *created = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "created")),
             *updated = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "updated"));
  px_status s = PX_STORE;
  if (cJSON_IsNumber(id) && cJSON_IsNumber(ver) && cJSON_IsObject(body) && created && updated &&
      name_len < PX_DEF_NAME_MAX && px_time_parse_iso(created, &d->created_ms) == PX_OK &&
      px_time_parse_iso(updated, &d->updated_ms) == PX_OK) {
    d->kind = kind;
    d->id = (uint32_t)id->valuedouble;
    d->version = (uint64_t)ver->valuedouble;
    memcpy(d->name, name, name_len);
    d->name[name_len] = 0;
    s = (d->body = print_owned(body)) ? PX_OK : PX_NOMEM;
  }
  cJSON_Delete(j);
  return s;
}

px_status px_def_get(px_txn *txn, const px_store *st, px_def_kind kind, const char *name, px_def *out) {
  px_key k;
  def_key(&k, kind, name);
  if (k.overflow) return PX_NOT_FOUND;
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_DEFS, k.b, k.n, &v);
  return s == PX_OK ? decode(kind, name, strlen(name), v.mv_data, v.mv_size, out) : s;
}

px_status px_def_put(px_txn *txn, const px_store *st, px_def_kind kind, const char *name, const char *body, size_t n,
                     int64_t now_ms, px_def *out, int *created) {
  if (created) *created = 0;
  if (!px_def_name_ok(name) || n > PX_DEF_BODY_MAX) return PX_INVALID;
  cJSON *b = cJSON_ParseWithLength(body, n);
  if (!cJSON_IsObject(b)) {
    cJSON_Delete(b);
    return PX_INVALID;
  }
  px_def old;
  px_status s = px_def_get(txn, st, kind, name, &old);
  if (s != PX_OK && s != PX_NOT_FOUND) {
    cJSON_Delete(b);
    return s;
  }
  int is_new = s == PX_NOT_FOUND;
  uint64_t old_version = is_new ? 0 : old.version, gen;
  char *compact = print_owned(b);
  px_def d = {kind, 0, 1, "", now_ms, now_ms, compact};
  strcpy(d.name, name);
  s = compact ? PX_OK : PX_NOMEM;
  if (s == PX_OK && !is_new) {
    d.id = old.id;
    d.created_ms = old.created_ms;
    d.version = old.version;
    d.updated_ms = old.updated_ms;
    if (strcmp(old.body, compact) != 0) d.version++, d.updated_ms = now_ms;
  } else if (s == PX_OK) {
    uint64_t id;
    if ((s = px_store_next_id(txn, st, counter_of(kind), &id)) == PX_OK && id > PX_DEF_MAX_ID) s = PX_TOO_LARGE;
    if (s == PX_OK) d.id = (uint32_t)id;
  }
  if (!is_new) px_def_free(&old);
  px_buf rec;
  px_buf_init(&rec, 0);
  if (s == PX_OK) {
    char c[32], u[32];
    px_time_format_iso(d.created_ms, c);
    px_time_format_iso(d.updated_ms, u);
    px_buf_printf(&rec, "{\"id\":%u,\"version\":%llu,\"created\":\"%s\",\"updated\":\"%s\",\"definition\":%s}", d.id,
                  (unsigned long long)d.version, c, u, compact);
    px_key k;
    def_key(&k, kind, name);
    s = rec.data ? px_store_put(txn, st, PX_DB_DEFS, k.b, k.n, rec.data, rec.len, 0) : PX_NOMEM;
  }
  px_buf_free(&rec);
  cJSON_Delete(b);
  /* Other processes' registries (segment/engine.c) notice the change. */
  if (s == PX_OK && d.version != old_version) s = px_store_next_id(txn, st, "defgen", &gen);
  if (s == PX_OK && out) *out = d;
  else free(compact);
  if (s == PX_OK && created) *created = is_new;
  return s;
}

px_status px_def_del(px_txn *txn, const px_store *st, px_def_kind kind, const char *name) {
  px_key k;
  def_key(&k, kind, name);
  if (k.overflow) return PX_NOT_FOUND;
  px_status s = px_store_del(txn, st, PX_DB_DEFS, k.b, k.n);
  uint64_t gen;
  if (s == PX_OK) s = px_store_next_id(txn, st, "defgen", &gen);
  return s;
}

px_status px_def_generation(px_txn *txn, const px_store *st, uint64_t *out) {
  return px_store_counter(txn, st, "defgen", out);
}

px_status px_def_list(px_txn *txn, const px_store *st, px_def_kind kind, px_def **out, size_t *n) {
  *out = NULL;
  *n = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_DEFS), px_store_dbi(st, PX_DB_DEFS), &cur);
  if (rc) return px_store_status(rc);
  uint8_t pre = (uint8_t)kind;
  MDB_val k = {1, &pre}, v;
  px_status s = PX_OK;
  size_t cap = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 2 || *(const uint8_t *)k.mv_data != pre) break;
    if (*n == cap) {
      px_def *d = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof *d);
      if (!d) {
        s = PX_NOMEM;
        break;
      }
      *out = d;
    }
    if ((s = decode(kind, (const char *)k.mv_data + 1, k.mv_size - 1, v.mv_data, v.mv_size, &(*out)[*n])) != PX_OK)
      break;
    ++*n;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s != PX_OK) {
    for (size_t i = 0; i < *n; i++) px_def_free(&(*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return s;
}

void px_def_free(px_def *d) {
  if (!d) return;
  free(d->body);
  d->body = NULL;
}

px_status px_def_read(px_store *st, px_def_kind kind, const char *name, px_def *out) {
  px_txn *txn;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s != PX_OK) return s;
  s = px_def_get(txn, st, kind, name, out);
  px_store_abort(txn);
  return s;
}
