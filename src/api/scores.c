/* Scores over the HTTP API (admin token):
 *   GET  /v1/scores/rfm           the RFM definition, the last refresh's summary, the next refresh
 *   POST /v1/scores/rfm/refresh   refresh every customer's RFM scores now; answers the same
 *   GET  /v1/scores/clv           the CLV definition, the current model, the last refresh, the next
 *   GET  /v1/scores/clv/models    the fitted models kept, newest first
 *   POST /v1/scores/clv/refresh   refit on the stored purchases and score every customer now;
 *                                 answers as GET /v1/scores/clv (409 when no model could be fitted)
 *   GET  /v1/scores/engagement    the engagement definition and the profiles per tier
 *   PUT  /v1/scores/engagement    define or change it (the computed trait and the four tier
 *                                 segments, backfilled in the request); answers as GET
 * A refresh runs in one write transaction in the request thread, as
 * segment definitions do (the event writer waits for it). */
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "segment/clv_refresh.h"
#include "segment/engagement.h"
#include "segment/rfm_refresh.h"

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void not_configured(px_http_resp *resp) {
  px_api_fail(resp, 404, "rfm not configured", "rfm",
              "apply a definition {\"rfm\": {\"recency\", \"frequency\", \"monetary\"}} first (pickaxe apply)");
}

static void get_rfm(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_status s = px_rfm_status(txn, api->st, &resp->body);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) not_configured(resp);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void refresh_rfm(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_error err;
  px_error_clear(&err);
  px_rfm_summary m;
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_status s = px_rfm_refresh(txn, api->st, cfg, px_time_now_ms(), NULL, NULL, &m, &err);
  px_api_config_release(api);
  if (s == PX_OK) s = px_rfm_status(txn, api->st, &resp->body);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) not_configured(resp);
  else if (s == PX_INVALID) px_api_error(resp, 409, "rfm cannot be refreshed", &err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void clv_not_configured(px_http_resp *resp) {
  px_api_fail(resp, 404, "clv not configured", "clv",
              "apply a definition {\"clv\": {\"event\": \"Order Completed\"}} first (pickaxe apply)");
}

static void get_clv(px_api *api, const px_http_req *req, px_http_resp *resp, int models) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_status s = models ? px_clv_models(txn, api->st, &resp->body) : px_clv_status(txn, api->st, &resp->body);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) clv_not_configured(resp);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

/* Read and fit in a read transaction, then the writes in a write one (the
 * event writer waits only for those). */
static void refresh_clv(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_clv_run *run = NULL;
  px_clv_summary_out m;
  px_status s = px_clv_prepare(txn, api->st, px_time_now_ms(), NULL, NULL, &run, &m);
  px_store_abort(txn);
  if (s == PX_OK) {
    if (!(txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp))) {
      px_clv_run_free(run);
      return;
    }
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_clv_apply(txn, api->st, cfg, run, px_time_now_ms(), &m);
    px_api_config_release(api);
    if (s == PX_OK) s = px_clv_status(txn, api->st, &resp->body); /* what this refresh wrote */
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  px_clv_run_free(run);
  if (s == PX_NOT_FOUND) {
    clv_not_configured(resp);
  } else if (s == PX_INVALID) {
    px_api_fail(resp, 409, "clv cannot be refreshed", "clv",
                "the computed trait " PX_CLV_TRAIT " it reads was deleted or changed: apply the clv definition again");
  } else if (s != PX_OK) {
    px_api_error(resp, 500, px_status_str(s), NULL);
  } else if (!m.fitted) {
    px_buf_reset(&resp->body);
    px_api_fail(resp, 409, "no model fitted", "clv", "%s; the last model and scores stay",
                px_clv_unfitted_reason(m.fit_status));
  } else {
    resp->status = 200;
  }
}

static void engagement_not_configured(px_http_resp *resp) {
  px_api_fail(resp, 404, "engagement not configured", "engagement",
              "PUT /v1/scores/engagement {\"events\": {EVENT: {\"weight\", \"half_life\"}...}, \"tiers\"} first");
}

static void get_engagement(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_status s = px_engagement_status(txn, api->st, &resp->body);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) engagement_not_configured(resp);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void put_engagement(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_error err;
  px_error_clear(&err);
  const px_config *cfg = px_api_config_acquire(api, txn);
  px_status s = px_engagement_define(txn, api->st, cfg, req->body ? req->body : "", req->body_len, px_time_now_ms(),
                                     px_api_backfill_progress, api, &err);
  px_api_config_release(api);
  if (s == PX_OK) s = px_engagement_status(txn, api->st, &resp->body);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_INVALID) px_buf_reset(&resp->body), px_api_error(resp, 400, "invalid engagement", &err);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

void px_api_scores(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int get = is(req->method, "GET") || is(req->method, "HEAD");
  if (is(rest, "/rfm")) {
    if (get) get_rfm(api, req, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
  } else if (is(rest, "/rfm/refresh")) {
    if (is(req->method, "POST")) refresh_rfm(api, req, resp);
    else px_api_not_allowed(resp, "POST");
  } else if (is(rest, "/clv") || is(rest, "/clv/models")) {
    if (get) get_clv(api, req, resp, is(rest, "/clv/models"));
    else px_api_not_allowed(resp, "GET, HEAD");
  } else if (is(rest, "/engagement")) {
    if (get) get_engagement(api, req, resp);
    else if (is(req->method, "PUT")) put_engagement(api, req, resp);
    else px_api_not_allowed(resp, "GET, HEAD, PUT");
  } else if (is(rest, "/clv/refresh")) {
    if (is(req->method, "POST")) refresh_clv(api, req, resp);
    else px_api_not_allowed(resp, "POST");
  } else {
    px_api_error(resp, 404, "no such endpoint", NULL);
  }
}
