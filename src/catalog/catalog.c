/* The catalog in the store: PX_DB_PRODUCTS (log environment), key the
 * product id, value a flags byte and the canonical JSON (catalog.h). */
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "catalog/catalog.h"

/* An id that cannot be a key is simply not in the catalog. */
static int key_ok(const char *id, size_t n) { return id && n > 0 && n <= PX_PRODUCT_ID_MAX; }

/* The stored record of id: flags byte, then JSON (at least "{}"). */
static px_status record(px_txn *txn, const px_store *st, const char *id, size_t n, MDB_val *v) {
  if (!key_ok(id, n)) return PX_NOT_FOUND;
  px_status s = px_store_get(txn, st, PX_DB_PRODUCTS, id, n, v);
  if (s == PX_OK && v->mv_size < 3) s = PX_STORE;
  return s;
}

px_status px_catalog_get(px_txn *txn, const px_store *st, const char *id, size_t n, MDB_val *json) {
  MDB_val v;
  px_status s = record(txn, st, id, n, &v);
  if (s != PX_OK) return s;
  json->mv_data = (char *)v.mv_data + 1;
  json->mv_size = v.mv_size - 1;
  return PX_OK;
}

px_status px_catalog_available(px_txn *txn, const px_store *st, const char *id, size_t n, int *available) {
  MDB_val v;
  px_status s = record(txn, st, id, n, &v);
  if (s == PX_OK) *available = (*(const unsigned char *)v.mv_data & PX_PRODUCT_AVAILABLE) != 0;
  return s;
}

px_status px_catalog_page(px_txn *txn, const px_store *st, const char *after, size_t an, size_t limit,
                          px_catalog_fn fn, void *arg, int *more) {
  *more = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_PRODUCTS), px_store_dbi(st, PX_DB_PRODUCTS), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k = {0, NULL}, v;
  if (after && an) {
    if (an > PX_PRODUCT_ID_MAX) an = PX_PRODUCT_ID_MAX + 1; /* past every id of that prefix: keys are shorter */
    k.mv_size = an;
    k.mv_data = (void *)after;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == an && memcmp(k.mv_data, after, an) == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  } else {
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  }
  px_status s = PX_OK;
  for (size_t seen = 0; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (seen == limit) {
      *more = 1;
      break;
    }
    if (v.mv_size < 3 || k.mv_size == 0 || k.mv_size > PX_PRODUCT_ID_MAX) {
      s = PX_STORE;
      break;
    }
    seen++;
    if ((s = fn(arg, k.mv_data, k.mv_size, *(const unsigned char *)v.mv_data, (const char *)v.mv_data + 1,
                v.mv_size - 1)) != PX_OK)
      break;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  return s;
}

px_status px_catalog_each(px_txn *txn, const px_store *st, px_catalog_fn fn, void *arg) {
  int more;
  return px_catalog_page(txn, st, NULL, 0, SIZE_MAX, fn, arg, &more);
}

px_status px_catalog_count(px_txn *txn, const px_store *st, uint64_t *out) {
  return px_store_count(txn, st, PX_DB_PRODUCTS, out);
}

/* Whether stored JSON (with its updated_at) is body (canonical JSON
 * without one) but for updated_at: body's text up to its closing brace is
 * the stored text up to ,"updated_at". */
static int same_but_updated(const char *stored, size_t sn, const char *body, size_t bn) {
  static const char mark[] = ",\"updated_at\":\"";
  size_t ml = sizeof mark - 1;
  if (bn < 2 || sn < bn - 1 + ml) return 0;
  return memcmp(stored, body, bn - 1) == 0 && memcmp(stored + bn - 1, mark, ml) == 0 &&
         memchr(stored + bn - 1 + ml, '"', sn - (bn - 1 + ml)) == stored + sn - 2 && stored[sn - 1] == '}';
}

px_status px_catalog_write(px_txn *txn, const px_store *st, const px_product *p, int64_t now_ms,
                           px_catalog_outcome *outcome) {
  if (!key_ok(p->id, p->idn) || p->json.len < 2 || p->json.data[p->json.len - 1] != '}') return PX_INVALID;
  MDB_val old;
  px_status s = record(txn, st, p->id, p->idn, &old);
  if (s != PX_OK && s != PX_NOT_FOUND) return s;
  px_catalog_outcome o = s == PX_OK ? PX_CATALOG_REPLACED : PX_CATALOG_CREATED;
  if (s == PX_OK && *(const unsigned char *)old.mv_data == p->flags &&
      same_but_updated((const char *)old.mv_data + 1, old.mv_size - 1, p->json.data, p->json.len)) {
    if (outcome) *outcome = PX_CATALOG_UNCHANGED;
    return PX_OK;
  }
  if (now_ms < PX_TIME_MIN_MS || now_ms > PX_TIME_MAX_MS) return PX_INVALID;
  char when[32];
  px_time_format_iso(now_ms, when);
  px_buf v;
  px_buf_init(&v, 0);
  unsigned char flags = (unsigned char)p->flags;
  s = px_buf_append(&v, &flags, 1);
  if (s == PX_OK) s = px_buf_append(&v, p->json.data, p->json.len - 1);
  if (s == PX_OK) s = px_buf_printf(&v, ",\"updated_at\":\"%s\"}", when);
  if (s == PX_OK) s = px_store_put(txn, st, PX_DB_PRODUCTS, p->id, p->idn, v.data, v.len, 0);
  px_buf_free(&v);
  if (s == PX_OK && outcome) *outcome = o;
  return s;
}

px_status px_catalog_put(px_txn *txn, const px_store *st, const char *json, size_t n, int64_t now_ms, px_error *err,
                         px_catalog_outcome *outcome) {
  px_product p;
  px_product_init(&p);
  px_status s = px_product_parse(json, n, NULL, 0, &p, err);
  if (s == PX_OK) s = px_catalog_write(txn, st, &p, now_ms, outcome);
  px_product_free(&p);
  return s;
}

px_status px_catalog_patch(px_txn *txn, const px_store *st, const char *id, size_t n, const char *patch, size_t pn,
                           int64_t now_ms, px_error *err, px_catalog_outcome *outcome, px_buf *out) {
  MDB_val cur;
  px_status s = px_catalog_get(txn, st, id, n, &cur);
  if (s != PX_OK) return s;
  px_product p;
  px_product_init(&p);
  /* The patch is applied to a tree of its own: the stored text may move with the write. */
  s = px_product_merge(cur.mv_data, cur.mv_size, patch, pn, &p, err);
  if (s == PX_OK) s = px_catalog_write(txn, st, &p, now_ms, outcome);
  if (s == PX_OK && out && (s = px_catalog_get(txn, st, p.id, p.idn, &cur)) == PX_OK)
    s = px_buf_append(out, cur.mv_data, cur.mv_size);
  px_product_free(&p);
  return s;
}

px_status px_catalog_del(px_txn *txn, const px_store *st, const char *id, size_t n) {
  if (!key_ok(id, n)) return PX_NOT_FOUND;
  return px_store_del(txn, st, PX_DB_PRODUCTS, id, n);
}
