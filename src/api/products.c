/* The product catalog over the HTTP API (admin token):
 *   GET    /v1/products?limit=N&after=ID  products in id order, paged (limit 1-1000, default 100)
 *   POST   /v1/products/batch             {"products": [...]}: up to 1,000 created or replaced;
 *                                         bad ones reported by index, the others land
 *   GET    /v1/products/{id}              one product
 *   PUT    /v1/products/{id}              create (201) or replace (200) with the body
 *   PATCH  /v1/products/{id}              a JSON merge patch (RFC 7396): {"stock": "out_of_stock"}
 *   DELETE /v1/products/{id}              204
 * Ids in paths (and after=) are percent-encoded, "/" as %2F. Writes hold
 * the log's lock only (the catalog is in the log) and are committed
 * (fsynced) before the answer, so the next request sees them. The path
 * /v1/products/batch is the batch (POST only): a product whose id is
 * "batch" is not addressed by a path (it is listed, and written by batches,
 * imports and the CLI). See docs/internals/catalog.md. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "catalog/catalog.h"
#include "event/event.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define BATCH_MAX 1000 /* products in one POST /v1/products/batch */

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void not_found(px_http_resp *resp, const char *id, size_t n) {
  px_api_fail(resp, 404, "product not found", "id", "no product with id \"%.*s\"", (int)(n > 200 ? 200 : n), id);
}

int px_api_product_id(const char *s, size_t sn, char id[PX_PRODUCT_ID_MAX + 1], size_t *n, const char *field,
                      px_http_resp *resp) {
  size_t w = 0;
  for (size_t i = 0; i < sn; i++) {
    char c = s[i];
    if (c == '%' && i + 2 < sn && s[i + 1] == '2' && (s[i + 2] == 'F' || s[i + 2] == '5')) {
      c = s[i + 2] == 'F' ? '/' : '%';
      i += 2;
    } else if (c == '%' && i + 2 < sn && s[i + 1] == '0' && s[i + 2] == '0') {
      px_api_fail(resp, 400, "invalid product id", field, "must not contain control characters (%%00)");
      return 0;
    }
    if (w == PX_PRODUCT_ID_MAX) {
      px_api_fail(resp, 400, "invalid product id", field, "at most %d bytes", PX_PRODUCT_ID_MAX);
      return 0;
    }
    id[w++] = c;
  }
  id[w] = 0;
  *n = w;
  px_error err;
  px_error_clear(&err);
  if (px_product_id_check(id, w, &err) != PX_OK) {
    px_api_fail(resp, 400, "invalid product id", field, "%s", err.reason);
    return 0;
  }
  return 1;
}

/* 413/415/400 for a body that cannot be read as one product or patch of
 * at most max bytes; 1 when it may be parsed. */
static int body_ok(const px_http_req *req, size_t max, px_http_resp *resp) {
  if (req->body_too_large || req->body_len > max) {
    px_api_fail(resp, 413, "payload too large", "", "request body larger than %zu bytes",
                req->body_too_large ? (size_t)PX_MAX_REQUEST_BYTES : max);
    return 0;
  }
  if (req->body_bad_encoding == PX_HTTP_ENC_UNSUPPORTED) {
    px_api_fail(resp, 415, "unsupported content encoding", "Content-Encoding", "only gzip and identity are supported");
    return 0;
  }
  if (req->body_bad_encoding == PX_HTTP_ENC_CORRUPT) {
    px_api_fail(resp, 400, "corrupt gzip body", "Content-Encoding", "the body is not valid gzip");
    return 0;
  }
  return 1;
}

/* The error answer for what px_product_parse/merge/json said. */
static void product_error(px_http_resp *resp, px_status s, const char *invalid, const px_error *err) {
  if (s == PX_TOO_LARGE) px_api_error(resp, 413, "payload too large", err);
  else if (s == PX_BAD_JSON) px_api_error(resp, 400, "malformed JSON", err);
  else if (s == PX_BAD_UTF8) px_api_error(resp, 400, "invalid UTF-8", err);
  else if (s == PX_INVALID) px_api_error(resp, 400, invalid, err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

/* 507 when the store is full, else 500. */
static void store_error(px_http_resp *resp, px_status s) {
  px_buf_reset(&resp->body);
  px_api_error(resp, s == PX_STORE_FULL || s == PX_DISK_FULL ? 507 : 500, px_status_str(s), NULL);
}

/* Authenticates (a read transaction, ended); 0 when resp was filled. */
static int authorized(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  px_store_abort(txn);
  return txn != NULL;
}

/* A transaction for a request already authenticated: PX_TXN_READ, or
 * PX_TXN_LOG to write (the catalog is in the log: the state's lock is not
 * needed). NULL when resp was filled (500). */
static px_txn *begin(px_api *api, int mode, px_http_resp *resp) {
  px_txn *txn;
  if (px_store_begin(api->st, mode, &txn) == PX_OK) return txn;
  px_api_error(resp, 500, "store unavailable", NULL);
  return NULL;
}

static void get_product(px_api *api, const char *id, size_t n, px_http_resp *resp) {
  px_txn *txn = begin(api, PX_TXN_READ, resp);
  if (!txn) return;
  MDB_val v;
  px_status s = px_catalog_get(txn, api->st, id, n, &v);
  if (s == PX_OK) s = px_buf_append(&resp->body, v.mv_data, v.mv_size);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) not_found(resp, id, n);
  else store_error(resp, s);
}

/* Stores p (checked) in a transaction of its own and answers with the
 * stored product: 201 created, else 200. */
static void write_product(px_api *api, const px_product *p, px_http_resp *resp) {
  px_txn *txn = begin(api, PX_TXN_LOG, resp);
  if (!txn) return;
  px_catalog_outcome o = PX_CATALOG_UNCHANGED;
  MDB_val v;
  px_status s = px_catalog_write(txn, api->st, p, px_time_now_ms(), &o);
  if (s == PX_OK) s = px_catalog_get(txn, api->st, p->id, p->idn, &v);
  if (s == PX_OK) s = px_buf_append(&resp->body, v.mv_data, v.mv_size);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = o == PX_CATALOG_CREATED ? 201 : 200;
  else store_error(resp, s);
}

static void put_product(px_api *api, const px_http_req *req, const char *id, size_t n, px_http_resp *resp) {
  if (!body_ok(req, PX_PRODUCT_INPUT_MAX, resp)) return;
  px_product p;
  px_product_init(&p);
  px_error err;
  px_error_clear(&err);
  px_status s = px_product_parse(req->body ? req->body : "", req->body_len, id, n, &p, &err);
  if (s == PX_OK) write_product(api, &p, resp);
  else product_error(resp, s, "invalid product", &err);
  px_product_free(&p);
}

static void patch_product(px_api *api, const px_http_req *req, const char *id, size_t n, px_http_resp *resp) {
  if (!body_ok(req, PX_PRODUCT_INPUT_MAX, resp)) return;
  px_txn *txn = begin(api, PX_TXN_LOG, resp);
  if (!txn) return;
  px_error err;
  px_error_clear(&err);
  px_status s = px_catalog_patch(txn, api->st, id, n, req->body ? req->body : "", req->body_len, px_time_now_ms(),
                                 &err, NULL, &resp->body);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) px_buf_reset(&resp->body), not_found(resp, id, n);
  else if (s == PX_INVALID || s == PX_BAD_JSON || s == PX_BAD_UTF8 || s == PX_TOO_LARGE)
    px_buf_reset(&resp->body), product_error(resp, s, "invalid patch", &err);
  else store_error(resp, s);
}

static void delete_product(px_api *api, const char *id, size_t n, px_http_resp *resp) {
  px_txn *txn = begin(api, PX_TXN_LOG, resp);
  if (!txn) return;
  px_status s = px_catalog_del(txn, api->st, id, n);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 204;
  else if (s == PX_NOT_FOUND) not_found(resp, id, n);
  else store_error(resp, s);
}

/* ---- the list ---- */

typedef struct page {
  px_buf *out;
  size_t n;
  char last[PX_PRODUCT_ID_MAX + 1];
  size_t lastn;
} page;

static px_status page_cb(void *arg, const char *id, size_t idn, unsigned flags, const char *json, size_t jn) {
  (void)flags;
  page *p = arg;
  if (p->n++) px_buf_putc(p->out, ',');
  memcpy(p->last, id, idn);
  p->lastn = idn;
  return px_buf_append(p->out, json, jn);
}

static void list_products(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  int limit = px_api_parse_limit(px_http_query(req, "limit"), LIST_DEFAULT, LIST_MAX);
  const char *after_q = px_http_query(req, "after");
  char after[PX_PRODUCT_ID_MAX + 1];
  size_t an = 0;
  if (!limit) {
    px_store_abort(txn);
    px_api_fail(resp, 400, "invalid query", "limit", "must be an integer from 1 to %d", LIST_MAX);
    return;
  }
  if (after_q && !px_api_product_id(after_q, strlen(after_q), after, &an, "after", resp)) {
    px_store_abort(txn);
    return;
  }
  page p = {.out = &resp->body};
  int more = 0;
  uint64_t total = 0;
  px_status s = px_buf_puts(&resp->body, "{\"products\":[");
  if (s == PX_OK) s = px_catalog_page(txn, api->st, an ? after : NULL, an, (size_t)limit, page_cb, &p, &more);
  if (s == PX_OK) s = px_catalog_count(txn, api->st, &total);
  if (s == PX_OK) s = px_buf_puts(&resp->body, "],\"next_after\":");
  if (s == PX_OK) s = more ? px_buf_json_str(&resp->body, p.last, p.lastn) : px_buf_puts(&resp->body, "null");
  if (s == PX_OK) s = px_buf_printf(&resp->body, ",\"total\":%llu}", (unsigned long long)total);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else store_error(resp, s);
}

/* ---- batch ---- */

typedef struct item_reject {
  int index;
  px_error err;
} item_reject;

static void batch_answer(px_http_resp *resp, int ok, const uint64_t counts[4], const item_reject *rej, size_t nrej) {
  px_buf *b = &resp->body;
  px_buf_reset(b);
  resp->status = ok ? 200 : 400;
  px_buf_puts(b, ok ? "{\"success\":true" : "{\"success\":false,\"error\":\"no valid products\"");
  px_buf_printf(b, ",\"accepted\":%llu,\"created\":%llu,\"replaced\":%llu,\"unchanged\":%llu,\"rejected\":[",
                (unsigned long long)(counts[PX_CATALOG_CREATED] + counts[PX_CATALOG_REPLACED] +
                                     counts[PX_CATALOG_UNCHANGED]),
                (unsigned long long)counts[PX_CATALOG_CREATED], (unsigned long long)counts[PX_CATALOG_REPLACED],
                (unsigned long long)counts[PX_CATALOG_UNCHANGED]);
  for (size_t i = 0; i < nrej; i++) {
    px_buf_printf(b, "%s{\"index\":%d,\"field\":", i ? "," : "", rej[i].index);
    px_buf_json_str(b, rej[i].err.field, strlen(rej[i].err.field));
    px_buf_puts(b, ",\"reason\":");
    px_buf_json_str(b, rej[i].err.reason, strlen(rej[i].err.reason));
    px_buf_putc(b, '}');
  }
  px_buf_puts(b, "]}");
}

/* The "products" array of a batch body; NULL when resp was filled. */
static const cJSON *batch_items(const cJSON *root, px_http_resp *resp) {
  if (!cJSON_IsObject(root)) {
    px_api_fail(resp, 400, "invalid request", "", "the body must be a JSON object {\"products\": [...]}");
    return NULL;
  }
  for (const cJSON *m = root->child; m; m = m->next) {
    if (!is(m->string, "products")) {
      px_api_fail(resp, 400, "invalid request", m->string, "unknown member (a batch has only \"products\")");
      return NULL;
    }
  }
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "products");
  int n = cJSON_GetArraySize(items);
  if (!cJSON_IsArray(items) || n < 1 || n > BATCH_MAX) {
    px_api_fail(resp, 400, "invalid request", "products", "must be an array of 1 to %d products", BATCH_MAX);
    return NULL;
  }
  return items;
}

static void batch(px_api *api, const px_http_req *req, px_http_resp *resp) {
  if (!body_ok(req, PX_MAX_REQUEST_BYTES, resp)) return;
  px_error err;
  px_error_clear(&err);
  cJSON *root = NULL;
  px_status s = px_product_json(req->body ? req->body : "", req->body_len, PX_MAX_REQUEST_BYTES, &root, &err);
  if (s != PX_OK) {
    product_error(resp, s, "invalid request", &err);
    return;
  }
  const cJSON *items = batch_items(root, resp);
  int n = items ? cJSON_GetArraySize(items) : 0;
  px_product *ps = n ? calloc((size_t)n, sizeof *ps) : NULL;
  item_reject *rej = n ? calloc((size_t)n, sizeof *rej) : NULL;
  size_t nrej = 0;
  uint64_t counts[4] = {0};
  if (!items) goto out;
  if (!ps || !rej) {
    px_api_error(resp, 500, px_status_str(PX_NOMEM), NULL);
    goto out;
  }
  /* Every item checked before the write lock is taken. */
  int i = 0, good = 0;
  for (const cJSON *it = items->child; it; it = it->next, i++) {
    px_product_init(&ps[i]);
    px_error_clear(&rej[nrej].err);
    if (px_product_read(it, NULL, 0, &ps[i], &rej[nrej].err) == PX_OK) good++;
    else rej[nrej++].index = i;
  }
  if (!good) {
    batch_answer(resp, 0, counts, rej, nrej);
    goto out;
  }
  px_txn *txn = begin(api, PX_TXN_LOG, resp);
  if (!txn) goto out;
  int64_t now = px_time_now_ms();
  s = PX_OK;
  for (i = 0; i < n && s == PX_OK; i++) {
    if (!ps[i].json.len) continue; /* rejected */
    px_catalog_outcome o = PX_CATALOG_UNCHANGED;
    if ((s = px_catalog_write(txn, api->st, &ps[i], now, &o)) == PX_OK) counts[o]++;
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) batch_answer(resp, 1, counts, rej, nrej);
  else store_error(resp, s);
out:
  for (i = 0; ps && i < n; i++) px_product_free(&ps[i]);
  free(ps);
  free(rej);
  cJSON_Delete(root);
}

void px_api_products(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int get = is(req->method, "GET") || is(req->method, "HEAD");
  if (!*rest) { /* /v1/products */
    if (get) list_products(api, req, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
    return;
  }
  const char *seg = rest + 1; /* after the '/' */
  size_t sn = strlen(seg);
  if (!sn || memchr(seg, '/', sn)) { /* an id's "/" is sent as %2F */
    px_api_error(resp, 404, "no such endpoint", NULL);
    return;
  }
  if (is(seg, "batch")) { /* the batch, not a product's path (a literal path before a template, as OpenAPI has it) */
    if (!is(req->method, "POST")) px_api_not_allowed(resp, "POST");
    else if (authorized(api, req, resp)) batch(api, req, resp);
    return;
  }
  int put = is(req->method, "PUT"), patch = is(req->method, "PATCH"), del = is(req->method, "DELETE");
  if (!get && !put && !patch && !del) {
    px_api_not_allowed(resp, "GET, HEAD, PUT, PATCH, DELETE");
    return;
  }
  if (!authorized(api, req, resp)) return; /* the token before anything about the request */
  char id[PX_PRODUCT_ID_MAX + 1];
  size_t n;
  if (!px_api_product_id(seg, sn, id, &n, "id", resp)) return;
  else if (get) get_product(api, id, n, resp);
  else if (put) put_product(api, req, id, n, resp);
  else if (patch) patch_product(api, req, id, n, resp);
  else delete_product(api, id, n, resp);
}
