/* Journey stage models over the HTTP API (admin token):
 *   GET    /v1/journeys                  every model with its stages and the profiles in each
 *   PUT    /v1/journeys/{name}           define or replace: {"stages": [{"name", "rule"}...]}
 *                                        or {"preset": "retail"|"business"} (backfilled in the request)
 *   GET    /v1/journeys/{name}           one model
 *   DELETE /v1/journeys/{name}           the model and its stage segments
 *   GET    /v1/journeys/{name}/funnel?from=&to=   counts per stage and conversion over a period
 *                                        (ISO times or YYYY-MM-DD; default the last 30 days)
 * A profile's stages: GET /v1/profiles/{ref}/journeys (profiles.c). See
 * segment/journey.h. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "segment/journey.h"

#define DAY_MS 86400000LL

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void not_found(px_http_resp *resp, const char *name) {
  px_api_fail(resp, 404, "journey not found", "name", "no journey named \"%.64s\"", name);
}

static void funnel(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp); /* the token first, as everywhere */
  if (!txn) return;
  int64_t to = px_time_now_ms(), from;
  const char *qf = px_http_query(req, "from"), *qt = px_http_query(req, "to");
  px_error err;
  px_error_clear(&err);
  if (qt && px_time_parse_iso(qt, &to) != PX_OK)
    px_error_set(&err, PX_INVALID, "to", "must be an ISO 8601 time or a date YYYY-MM-DD");
  from = to - 30 * DAY_MS;
  if (!*err.field && qf && px_time_parse_iso(qf, &from) != PX_OK)
    px_error_set(&err, PX_INVALID, "from", "must be an ISO 8601 time or a date YYYY-MM-DD");
  if (!*err.field && from > to) px_error_set(&err, PX_INVALID, "from", "must not be after to");
  if (*err.field) {
    px_store_abort(txn);
    px_api_error(resp, 400, "invalid query", &err);
    return;
  }
  px_status s = px_journey_funnel(txn, api->st, name, from, to, &resp->body);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) px_buf_reset(&resp->body), not_found(resp, name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void put(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_error err;
  px_error_clear(&err);
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_status s = px_journey_define(txn, api->st, cfg, name, req->body ? req->body : "", req->body_len,
                                  px_time_now_ms(), px_api_backfill_progress, api, &err);
  px_api_config_release(api);
  if (s == PX_OK) s = px_journey_get(txn, api->st, name, &resp->body);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_INVALID) px_buf_reset(&resp->body), px_api_error(resp, 400, "invalid journey", &err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void del(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_status s = px_journey_delete(txn, api->st, cfg, name, px_time_now_ms());
  px_api_config_release(api);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 204;
  else if (s == PX_NOT_FOUND) not_found(resp, name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void get(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_status s = name ? px_journey_get(txn, api->st, name, &resp->body) : px_journey_list(txn, api->st, &resp->body);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) px_buf_reset(&resp->body), not_found(resp, name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

void px_api_journeys(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int reading = is(req->method, "GET") || is(req->method, "HEAD");
  if (!*rest) {
    if (reading) get(api, req, NULL, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
    return;
  }
  char name[PX_JOURNEY_NAME_MAX + 1];
  const char *slash = strchr(rest + 1, '/');
  size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
  if (rest[0] != '/' || n == 0 || n >= sizeof name || (slash && !is(slash, "/funnel"))) {
    px_api_error(resp, 404, "no such endpoint", NULL);
    return;
  }
  memcpy(name, rest + 1, n);
  name[n] = 0;
  if (slash) {
    if (reading) funnel(api, req, name, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
  } else if (reading) {
    get(api, req, name, resp);
  } else if (is(req->method, "PUT")) {
    put(api, req, name, resp);
  } else if (is(req->method, "DELETE")) {
    del(api, req, name, resp);
  } else {
    px_api_not_allowed(resp, "GET, HEAD, PUT, DELETE");
  }
}
