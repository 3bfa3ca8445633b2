/* Recommendations (src/recs):
 *   GET  /v1/recommendations           the definition and the current model's figures
 *   PUT  /v1/recommendations           define or change it (interactions' computed traits
 *                                      backfilled in the request); the model retrains at once
 *   POST /v1/recommendations/refresh   retrain now; answers with the new model's figures
 *   GET  /v1/recommendations/{ref}     a customer's recommendations (?n, ?exclude, ?segment)
 *   GET  /v1/items/{id}/similar        an item's "bought together" neighbours (?n, ?exclude)
 * Queries run on the model current when they start, in a read transaction,
 * so stock changes committed before the request are seen. */
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "profile/profile.h"

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void not_configured(px_http_resp *resp) {
  px_api_fail(resp, 404, "recommendations not configured", "recommendations",
              "PUT /v1/recommendations {\"interactions\": [{\"event\", \"item\", \"kind\"}...]} first "
              "(or pickaxe apply)");
}

/* Why no model can answer: no definition, not trained yet, or training failed. */
static void no_model(px_http_resp *resp, px_status why) {
  if (why == PX_NOT_FOUND) {
    not_configured(resp);
  } else if (why == PX_OK) {
    px_api_fail(resp, 503, "recommendations not ready", "", "the model is being trained; try again shortly");
    resp->retry_after = 1;
  } else if (why == PX_STORE) {
    px_api_fail(resp, 409, "recommendations cannot be trained", "recommendations",
                "%s (if an interaction's computed trait _reco_N was deleted, PUT the definition again)",
                px_status_str(why));
  } else {
    px_api_error(resp, 500, px_status_str(why), NULL);
  }
}

static void get_status(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_recs_def d;
  px_status s = px_recs_def_get(txn, api->st, &d, NULL);
  px_store_abort(txn);
  if (s != PX_OK) {
    if (s == PX_NOT_FOUND) not_configured(resp);
    else px_api_error(resp, 500, px_status_str(s), NULL);
    return;
  }
  px_buf_puts(&resp->body, "{\"definition\":");
  s = px_recs_def_print(&d, &resp->body);
  px_recs_def_free(&d);
  px_reco_query *q = NULL;
  px_status why = PX_OK;
  const px_recs_model *m = api->recs ? px_recs_service_acquire(api->recs, &q, &why) : NULL;
  if (s == PX_OK) s = px_buf_puts(&resp->body, ",\"model\":");
  if (s == PX_OK) s = m ? px_recs_stats_json(px_recs_model_stats(m), &resp->body) : px_buf_puts(&resp->body, "null");
  if (m) px_recs_service_release(api->recs, m, q);
  if (s == PX_OK) s = px_buf_putc(&resp->body, '}');
  if (s == PX_OK) resp->status = 200;
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void put_def(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_error err;
  px_error_clear(&err);
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_status s = px_recs_define(txn, api->st, cfg, req->body ? req->body : "", req->body_len, px_time_now_ms(),
                               px_api_backfill_progress, api, &err);
  px_api_config_release(api);
  px_recs_def d;
  if (s == PX_OK && (s = px_recs_def_get(txn, api->st, &d, NULL)) == PX_OK) {
    px_buf_puts(&resp->body, "{\"definition\":");
    s = px_recs_def_print(&d, &resp->body);
    px_buf_putc(&resp->body, '}');
    px_recs_def_free(&d);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK && api->recs) px_recs_service_poke(api->recs); /* retrain now, not at the next check */
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_INVALID) px_buf_reset(&resp->body), px_api_error(resp, 400, "invalid recommendations", &err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void refresh(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_store_abort(txn);
  if (!api->recs) {
    px_api_error(resp, 503, "recommendations not served", NULL);
    return;
  }
  px_recs_stats stats;
  px_status s = px_recs_service_refresh(api->recs, &stats);
  if (s != PX_OK) {
    no_model(resp, s);
    return;
  }
  px_buf_puts(&resp->body, "{\"model\":");
  if ((s = px_recs_stats_json(&stats, &resp->body)) == PX_OK) s = px_buf_putc(&resp->body, '}');
  if (s == PX_OK) resp->status = 200;
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

/* ?n, ?exclude (ids separated by commas), ?segment into o; exclude's
 * strings are cut in place in buf. 0 when resp was filled (400). */
static int query_opts(const px_http_req *req, px_recs_opts *o, const char **ids, char *buf, size_t bufn,
                      px_http_resp *resp) {
  *o = (px_recs_opts){.n = 10, .exclude = ids, .now_ms = px_time_now_ms()};
  int n = px_api_parse_limit(px_http_query(req, "n"), 10, PX_RECS_MAX_N);
  if (!n) {
    px_api_fail(resp, 400, "invalid query", "n", "must be a whole number from 1 to %d", PX_RECS_MAX_N);
    return 0;
  }
  o->n = (size_t)n;
  o->segment = px_http_query(req, "segment");
  const char *ex = px_http_query(req, "exclude");
  if (!ex || !*ex) return 1;
  if (strlen(ex) >= bufn) {
    px_api_fail(resp, 400, "invalid query", "exclude", "at most %zu bytes", bufn - 1);
    return 0;
  }
  strcpy(buf, ex);
  if (!px_recs_split_ids(buf, ids, &o->n_exclude)) {
    px_api_fail(resp, 400, "invalid query", "exclude", "at most %d items", PX_RECS_MAX_EXCLUDE);
    return 0;
  }
  /* Each id decoded as a path's is (%2F, %25), in place: never longer. */
  for (size_t i = 0; i < o->n_exclude; i++) {
    char id[PX_PRODUCT_ID_MAX + 1];
    size_t n;
    if (!px_api_product_id(ids[i], strlen(ids[i]), id, &n, "exclude", resp)) return 0;
    memcpy((char *)ids[i], id, n + 1);
  }
  return 1;
}

/* A query on the current model: for a profile (ref) or an item (item: its
 * path segment, item_n bytes, still encoded). */
static void query(px_api *api, const px_http_req *req, const char *ref, const char *item_seg, size_t item_n,
                  px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  char id[PX_PRODUCT_ID_MAX + 1];
  size_t idn = 0;
  const char *item = NULL;
  if (item_seg) {
    if (!px_api_product_id(item_seg, item_n, id, &idn, "id", resp)) {
      px_store_abort(txn);
      return;
    }
    item = id;
  }
  const char *ids[PX_RECS_MAX_EXCLUDE];
  char buf[8192];
  px_recs_opts o;
  if (!query_opts(req, &o, ids, buf, sizeof buf, resp)) {
    px_store_abort(txn);
    return;
  }
  px_reco_query *q = NULL;
  px_status why = PX_OK;
  const px_recs_model *m = api->recs ? px_recs_service_acquire(api->recs, &q, &why) : NULL;
  if (!m) {
    px_store_abort(txn);
    no_model(resp, api->recs ? why : PX_NOT_FOUND);
    return;
  }
  px_error err;
  px_error_clear(&err);
  px_status s;
  if (item) {
    s = px_recs_similar(m, q, txn, api->st, item, idn, &o, &resp->body, &err);
    if (s == PX_NOT_FOUND)
      px_error_set(&err, s, "id", "no customer has item \"%.200s\" (as of the model's training)", item);
  } else {
    uint64_t pid = 0;
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_profile_find(txn, api->st, cfg, ref, &pid);
    px_api_config_release(api);
    if (s == PX_NOT_FOUND) px_error_set(&err, s, "ref", "no profile has id or identifier \"%.200s\"", ref);
    else if (s == PX_OK) s = px_recs_for_profile(m, q, txn, api->st, pid, &o, &resp->body, &err);
  }
  px_recs_service_release(api->recs, m, q);
  px_store_abort(txn);
  if (s == PX_OK) {
    resp->status = 200;
    return;
  }
  px_buf_reset(&resp->body);
  if (s == PX_NOT_FOUND) px_api_error(resp, 404, item ? "item not found" : "profile not found", &err);
  else if (s == PX_INVALID) px_api_error(resp, 400, "invalid query", &err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

void px_api_recs(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int get = is(req->method, "GET") || is(req->method, "HEAD");
  if (!*rest) {
    if (get) get_status(api, req, resp);
    else if (is(req->method, "PUT")) put_def(api, req, resp);
    else px_api_not_allowed(resp, "GET, HEAD, PUT");
  } else if (is(rest, "/refresh")) {
    if (is(req->method, "POST")) refresh(api, req, resp);
    else px_api_not_allowed(resp, "POST");
  } else {
    char ref[600];
    if (px_api_path_segment(rest + 1, ref, sizeof ref) || !*ref) px_api_error(resp, 404, "no such endpoint", NULL);
    else if (!get) px_api_not_allowed(resp, "GET, HEAD");
    else query(api, req, ref, NULL, 0, resp);
  }
}

void px_api_items(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  const char *seg = rest + 1, *slash = strchr(seg, '/');
  if (!slash || !is(slash, "/similar") || slash == seg) px_api_error(resp, 404, "no such endpoint", NULL);
  else if (!(is(req->method, "GET") || is(req->method, "HEAD"))) px_api_not_allowed(resp, "GET, HEAD");
  else query(api, req, NULL, seg, (size_t)(slash - seg), resp);
}
