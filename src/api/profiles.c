/* GET /v1/profiles/{ref}[/events|/merges] and GET /metrics */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "identity/identity.h"
#include "profile/profile.h"

/* ref is a profile id or kind:value. Follows merges to the live profile. */
static px_status resolve_ref(px_api *api, MDB_txn *txn, const px_config *cfg, const char *ref,
                             uint64_t *pid) {
  const char *colon = strchr(ref, ':');
  px_status s;
  if (colon) {
    char kind[PX_KIND_NAME_MAX];
    size_t kn = (size_t)(colon - ref);
    if (kn == 0 || kn >= sizeof kind) return PX_NOT_FOUND;
    memcpy(kind, ref, kn);
    kind[kn] = 0;
    s = px_identity_lookup(txn, api->st, cfg, kind, colon + 1, pid);
  } else {
    s = px_profile_id_parse(ref, pid) ? PX_OK : PX_NOT_FOUND;
  }
  if (s != PX_OK) return s;
  return px_profile_live(txn, api->st, *pid, pid);
}

static int merge_cb(void *arg, uint64_t mid, const char *json, size_t n) {
  px_buf *b = arg;
  (void)mid;
  if (b->data[b->len - 1] != '[') px_buf_putc(b, ',');
  px_buf_append(b, json, n);
  return 0;
}

void px_api_profiles(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  MDB_txn *txn;
  if (px_store_begin(api->st, 0, &txn) != PX_OK) {
    px_api_error(resp, 500, "store unavailable", NULL);
    return;
  }
  char tok[128];
  size_t tn = px_api_credential(req->authorization, tok, sizeof tok);
  px_principal who;
  if (!px_api_auth(api, txn, tok, tn, PX_KEY_ADMIN, resp, &who)) {
    px_store_abort(txn);
    return;
  }
  char ref[600];
  size_t rn = strcspn(rest, "/");
  if (rn >= sizeof ref) rn = sizeof ref - 1;
  memcpy(ref, rest, rn);
  ref[rn] = 0;
  const char *sub = rest[rn] == '/' ? rest + rn + 1 : NULL;
  const px_config *cfg = px_api_config_acquire(api, txn);
  uint64_t pid = 0;
  px_error err;
  px_error_clear(&err);
  px_status s = resolve_ref(api, txn, cfg, ref, &pid);
  if (s == PX_NOT_FOUND) {
    px_error_set(&err, s, "ref", "no profile has id or identifier \"%.200s\"", ref);
    px_api_error(resp, 404, "profile not found", &err);
  } else if (s != PX_OK) {
    px_api_error(resp, 500, px_status_str(s), NULL);
  } else if (!sub) {
    s = px_profile_render(txn, api->st, cfg, pid, NULL, &resp->body);
    resp->status = 200;
  } else if (strcmp(sub, "events") == 0) {
    const char *l = px_http_query(req, "limit");
    int limit = l ? atoi(l) : 50;
    if (limit < 1 || limit > 1000) {
      px_error_set(&err, PX_INVALID, "limit", "must be 1-1000");
      px_api_error(resp, 400, "invalid query", &err);
    } else {
      s = px_profile_events(txn, api->st, pid, limit, px_http_query(req, "cursor"), &resp->body, &err);
      if (s == PX_INVALID) {
        px_api_error(resp, 400, "invalid query", &err);
        s = PX_OK;
      } else {
        resp->status = 200;
      }
    }
  } else if (strcmp(sub, "merges") == 0) {
    px_buf_puts(&resp->body, "{\"merges\":[");
    s = px_identity_merges(txn, api->st, pid, merge_cb, &resp->body);
    px_buf_puts(&resp->body, "]}");
    resp->status = 200;
  } else {
    px_api_error(resp, 404, "no such endpoint", NULL);
  }
  if (s != PX_OK && s != PX_NOT_FOUND) px_api_error(resp, 500, px_status_str(s), NULL);
  px_api_config_release(api);
  px_store_abort(txn);
}

void px_api_metrics(px_api *api, px_http_resp *resp) {
  uint64_t profiles = 0, merges = 0;
  MDB_txn *txn;
  if (px_store_begin(api->st, 0, &txn) == PX_OK) {
    px_store_counter(txn, api->st, "profiles", &profiles);
    px_store_counter(txn, api->st, "merges", &merges);
    px_store_abort(txn);
  }
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4";
  px_metrics_render(api->metrics, profiles, merges, &resp->body);
}
