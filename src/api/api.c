#include "api/api.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

px_status px_api_init(px_api *api, px_store *st, px_writer *w, px_metrics *m) {
  memset(api, 0, sizeof *api);
  api->st = st;
  api->writer = w;
  api->metrics = m;
  pthread_rwlock_init(&api->cfg_lock, NULL);
  px_config_default(&api->cfg);
  api->cfg.version = UINT64_MAX; /* forces a load on first use */
  return PX_OK;
}

void px_api_backfill_progress(void *arg, uint64_t done, uint64_t total) {
  px_api *api = arg;
  if (!api->metrics) return;
  atomic_store(&api->metrics->backfill_size, total);
  atomic_store(&api->metrics->backfill_done, done);
}

void px_api_destroy(px_api *api) {
  if (!api) return;
  px_recs_service_stop(api->recs);
  api->recs = NULL;
  px_config_free(&api->cfg);
  pthread_rwlock_destroy(&api->cfg_lock);
}

const px_config *px_api_config_acquire(px_api *api, px_txn *txn) {
  uint64_t v = 0;
  px_config_version(txn, api->st, &v);
  pthread_rwlock_rdlock(&api->cfg_lock);
  if (api->cfg.version == v) return &api->cfg;
  pthread_rwlock_unlock(&api->cfg_lock);
  pthread_rwlock_wrlock(&api->cfg_lock);
  if (api->cfg.version != v) {
    px_config fresh;
    if (px_config_load(txn, api->st, &fresh, NULL) == PX_OK) {
      px_config_free(&api->cfg);
      api->cfg = fresh;
      api->cfg.version = v;
    }
  }
  pthread_rwlock_unlock(&api->cfg_lock);
  pthread_rwlock_rdlock(&api->cfg_lock);
  return &api->cfg;
}

void px_api_config_release(px_api *api) { pthread_rwlock_unlock(&api->cfg_lock); }

void px_api_error(px_http_resp *resp, int status, const char *error, const px_error *detail) {
  resp->status = status;
  px_buf_reset(&resp->body);
  px_buf_puts(&resp->body, "{\"success\":false,\"error\":");
  px_buf_json_str(&resp->body, error, strlen(error));
  if (detail) {
    px_buf_puts(&resp->body, ",\"field\":");
    px_buf_json_str(&resp->body, detail->field, strlen(detail->field));
    px_buf_puts(&resp->body, ",\"reason\":");
    px_buf_json_str(&resp->body, detail->reason, strlen(detail->reason));
    if (detail->offset >= 0) px_buf_printf(&resp->body, ",\"offset\":%ld", detail->offset);
  }
  px_buf_putc(&resp->body, '}');
}

int px_api_auth(px_api *api, px_txn *txn, const char *secret, size_t n, px_key_kind want,
                px_http_resp *resp, px_principal *who) {
  if (!secret || !n) {
    px_api_error(resp, 401, want == PX_KEY_WRITE
                                ? "missing write key: use HTTP Basic auth (writeKey as user name) or \"writeKey\" in the body"
                                : "missing admin token: use Authorization: Bearer TOKEN (or Basic with the token as user name)",
                 NULL);
    return 0;
  }
  px_status s = px_auth_lookup(txn, api->st, secret, n, who);
  if (s == PX_NOT_FOUND) {
    px_api_error(resp, 401, want == PX_KEY_WRITE ? "unknown write key" : "unknown admin token", NULL);
    return 0;
  }
  if (s != PX_OK) {
    px_api_error(resp, 500, px_status_str(s), NULL);
    return 0;
  }
  if (who->kind != want) {
    px_api_error(resp, 403, want == PX_KEY_WRITE
                                ? "an admin token cannot send events; use a source's write key"
                                : "a write key cannot read; use an admin token",
                 NULL);
    return 0;
  }
  return 1;
}

void px_api_fail(px_http_resp *resp, int status, const char *error, const char *field, const char *fmt, ...) {
  px_error e;
  px_error_clear(&e);
  snprintf(e.field, sizeof e.field, "%s", field);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.reason, sizeof e.reason, fmt, ap);
  va_end(ap);
  px_api_error(resp, status, error, &e);
}

px_txn *px_api_admin_begin(px_api *api, const px_http_req *req, int mode, px_http_resp *resp) {
  px_txn *txn;
  if (px_store_begin(api->st, PX_TXN_READ, &txn) != PX_OK) {
    px_api_error(resp, 500, "store unavailable", NULL);
    return NULL;
  }
  char tok[128];
  size_t tn = px_api_credential(req->authorization, tok, sizeof tok);
  px_principal who;
  int ok = px_api_auth(api, txn, tok, tn, PX_KEY_ADMIN, resp, &who);
  if (!ok || mode == PX_TXN_READ) {
    if (!ok) px_store_abort(txn), txn = NULL;
    return txn;
  }
  px_store_abort(txn);
  if (req->body_too_large) { /* refused before waiting for the write locks */
    px_api_fail(resp, 413, "payload too large", "", "request body larger than %d bytes", PX_MAX_REQUEST_BYTES);
    return NULL;
  }
  /* The writer thread may hold the write locks; this waits for its commit. */
  if (px_store_begin(api->st, mode, &txn) != PX_OK) {
    px_api_error(resp, 500, "store unavailable", NULL);
    return NULL;
  }
  return txn;
}

int px_api_parse_limit(const char *s, int def, int max) {
  if (!s) return def;
  if (!*s || strlen(s) > 9) return 0;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  long v = strtol(s, NULL, 10);
  return v >= 1 && v <= max ? (int)v : 0;
}

size_t px_api_credential(const char *auth, char *out, size_t outn) {
  if (!auth) return 0;
  if (strncasecmp(auth, "Bearer ", 7) == 0) {
    snprintf(out, outn, "%s", auth + 7);
    return strlen(out);
  }
  if (strncasecmp(auth, "Basic ", 6) != 0) return 0;
  size_t n = 0;
  if (sodium_base642bin((unsigned char *)out, outn - 1, auth + 6, strlen(auth + 6), " ", &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return 0;
  out[n] = 0;
  char *colon = memchr(out, ':', n);
  if (colon) *colon = 0;
  return strlen(out);
}

static void health(px_http_resp *resp) {
  resp->status = 200;
  px_buf_puts(&resp->body, "{\"status\":\"ok\"}");
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

void px_api_not_allowed(px_http_resp *resp, const char *allow) {
  char msg[64];
  snprintf(msg, sizeof msg, "method not allowed: use %s", allow);
  px_api_error(resp, 405, msg, NULL);
  resp->allow = allow;
}

static int is_collect(const char *what) {
  static const char *paths[] = {"identify", "track", "page", "screen", "group", "alias", "batch", "import"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
    if (is(what, paths[i])) return 1;
  return 0;
}

void px_api_handle(void *app, const px_http_req *req, px_http_resp *resp) {
  px_api *api = app;
  const char *p = req->path;
  /* HEAD is GET without a body (the HTTP layer drops it). */
  int get = is(req->method, "GET") || is(req->method, "HEAD"), post = is(req->method, "POST");
  if (is(p, "/healthz") || is(p, "/metrics")) {
    if (!get) px_api_not_allowed(resp, "GET, HEAD");
    else if (is(p, "/healthz")) health(resp);
    else px_api_metrics(api, resp);
  } else if (strncmp(p, "/v1/profiles/", 13) == 0) {
    if (get) px_api_profiles(api, req, p + 13, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
  } else if (strncmp(p, "/v1/segments", 12) == 0 && (p[12] == 0 || p[12] == '/')) {
    px_api_segments(api, req, p + 12, resp);
  } else if (strncmp(p, "/v1/computed-traits", 19) == 0 && (p[19] == 0 || p[19] == '/')) {
    px_api_ctraits(api, req, p + 19, resp);
  } else if (strncmp(p, "/v1/scores/", 11) == 0) {
    px_api_scores(api, req, p + 10, resp);
  } else if (strncmp(p, "/v1/journeys", 12) == 0 && (p[12] == 0 || p[12] == '/')) {
    px_api_journeys(api, req, p + 12, resp);
  } else if (strncmp(p, "/v1/products", 12) == 0 && (p[12] == 0 || p[12] == '/')) {
    px_api_products(api, req, p + 12, resp);
  } else if (strncmp(p, "/v1/recommendations", 19) == 0 && (p[19] == 0 || p[19] == '/')) {
    px_api_recs(api, req, p + 19, resp);
  } else if (strncmp(p, "/v1/items/", 10) == 0) {
    px_api_items(api, req, p + 9, resp);
  } else if (is(p, "/v1/audiences/count") || is(p, "/v1/audiences/members")) {
    if (post) px_api_audiences(api, req, p + 14, resp);
    else px_api_not_allowed(resp, "POST");
  } else if (strncmp(p, "/v1/", 4) == 0 && is_collect(p + 4)) {
    if (post) px_api_collect(api, req, p + 4, resp);
    else px_api_not_allowed(resp, "POST");
  } else {
    px_api_error(resp, 404, "no such endpoint", NULL);
  }
  if (api->metrics && resp->status >= 100 && resp->status < 600)
    atomic_fetch_add(&api->metrics->http_requests[resp->status / 100], 1);
}
