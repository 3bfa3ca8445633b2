#include "source/source.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/timeutil.h"
#include "store/key.h"

typedef struct key_rec {
  uint8_t kind;
  uint8_t reserved[3];
  uint32_t source_id;
  int64_t created_ms;
} key_rec;

static void hash_secret(const char *secret, size_t n, unsigned char out[32]) {
  crypto_generichash(out, 32, (const unsigned char *)secret, n, NULL, 0);
}

static px_status put_secret(px_txn *txn, const px_store *st, const char *prefix, size_t len,
                            px_key_kind kind, uint32_t source_id, char out[PX_SECRET_MAX]) {
  size_t pl = strlen(prefix);
  memcpy(out, prefix, pl);
  px_rand_token(out + pl, len);
  unsigned char h[32];
  hash_secret(out, pl + len, h);
  key_rec r = {.kind = (uint8_t)kind, .source_id = source_id, .created_ms = px_time_now_ms()};
  return px_store_put(txn, st, PX_DB_KEYS, h, sizeof h, &r, sizeof r, MDB_NOOVERWRITE);
}

static px_status decode(const MDB_val *k, const MDB_val *v, px_source *out) {
  memset(out, 0, sizeof *out);
  out->id = px_get_u32(k->mv_data);
  cJSON *j = cJSON_ParseWithLength(v->mv_data, v->mv_size);
  if (!j) return PX_STORE;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
  if (cJSON_IsString(name)) snprintf(out->name, sizeof out->name, "%s", name->valuestring);
  out->priority = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "priority"));
  out->created_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "created_ms"));
  cJSON_Delete(j);
  return PX_OK;
}

px_status px_source_list(px_txn *txn, const px_store *st, px_source **out, size_t *n) {
  *out = NULL;
  *n = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_SOURCES), px_store_dbi(st, PX_DB_SOURCES), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k, v;
  size_t cap = 0;
  px_status s = PX_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      px_source *p = realloc(*out, cap * sizeof *p);
      if (!p) {
        s = PX_NOMEM;
        break;
      }
      *out = p;
    }
    if ((s = decode(&k, &v, &(*out)[*n])) != PX_OK) break;
    (*n)++;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s != PX_OK) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return s;
}

px_status px_source_get(px_txn *txn, const px_store *st, uint32_t id, px_source *out) {
  px_key k;
  px_key_init(&k);
  px_key_u32(&k, id);
  MDB_val key = {k.n, k.b}, v;
  px_status s = px_store_get(txn, st, PX_DB_SOURCES, k.b, k.n, &v);
  if (s != PX_OK) return s;
  return decode(&key, &v, out);
}

px_status px_source_find(px_txn *txn, const px_store *st, const char *name, px_source *out) {
  px_source *all;
  size_t n;
  px_status s = px_source_list(txn, st, &all, &n);
  if (s != PX_OK) return s;
  s = PX_NOT_FOUND;
  for (size_t i = 0; i < n; i++)
    if (strcmp(all[i].name, name) == 0) {
      *out = all[i];
      s = PX_OK;
      break;
    }
  free(all);
  return s;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= PX_SOURCE_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

px_status px_source_add(px_txn *txn, const px_store *st, const char *name, int32_t priority,
                        px_source *out, char key_out[PX_SECRET_MAX], px_error *err) {
  if (!valid_name(name))
    return px_error_set(err, PX_INVALID, "name", "1-%d characters of A-Z a-z 0-9 _ - .",
                        PX_SOURCE_NAME_MAX - 1);
  px_source existing;
  px_status s = px_source_find(txn, st, name, &existing);
  if (s == PX_OK) return px_error_set(err, PX_EXISTS, "name", "a source named %s exists", name);
  if (s != PX_NOT_FOUND) return s;
  uint64_t id;
  if ((s = px_store_next_id(txn, st, "source", &id)) != PX_OK) return s;
  memset(out, 0, sizeof *out);
  out->id = (uint32_t)id;
  snprintf(out->name, sizeof out->name, "%s", name);
  out->priority = priority;
  out->created_ms = px_time_now_ms();
  char json[256];
  int jn = snprintf(json, sizeof json, "{\"name\":\"%s\",\"priority\":%d,\"created_ms\":%lld}", name,
                    priority, (long long)out->created_ms);
  px_key k;
  px_key_init(&k);
  px_key_u32(&k, out->id);
  if ((s = px_store_put(txn, st, PX_DB_SOURCES, k.b, k.n, json, (size_t)jn, 0)) != PX_OK) return s;
  return put_secret(txn, st, "pkw_", 32, PX_KEY_WRITE, out->id, key_out);
}

px_status px_token_create(px_txn *txn, const px_store *st, char token_out[PX_SECRET_MAX]) {
  return put_secret(txn, st, "pka_", 40, PX_KEY_ADMIN, 0, token_out);
}

px_status px_auth_lookup(px_txn *txn, const px_store *st, const char *secret, size_t n,
                         px_principal *out) {
  if (n == 0 || n >= PX_SECRET_MAX) return PX_NOT_FOUND;
  unsigned char h[32];
  hash_secret(secret, n, h);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_KEYS, h, sizeof h, &v);
  if (s != PX_OK) return s;
  if (v.mv_size != sizeof(key_rec)) return PX_STORE;
  key_rec r;
  memcpy(&r, v.mv_data, sizeof r);
  out->kind = (px_key_kind)r.kind;
  out->source_id = r.source_id;
  return PX_OK;
}
