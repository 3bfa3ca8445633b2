/* GET /v1/profiles/{ref}[/events|/merges|/segments] and GET /metrics */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "identity/identity.h"
#include "profile/profile.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"

/* Digits only, no sign or space. */
static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

typedef struct merge_page {
  px_buf *out;
  int limit, n;
  uint64_t before; /* list only merge ids below this (0: from the newest) */
  uint64_t last;
  int more;
} merge_page;

static int merge_cb(void *arg, uint64_t mid, const char *json, size_t n) {
  merge_page *p = arg;
  if (p->before && mid >= p->before) return 0;
  if (p->n == p->limit) {
    p->more = 1;
    return 1;
  }
  if (p->n++) px_buf_putc(p->out, ',');
  px_buf_append(p->out, json, n);
  p->last = mid;
  return 0;
}

/* The name of segment id among defs, NULL when it was deleted. */
static const char *seg_name(const px_def *defs, size_t n, uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (defs[i].id == id) return defs[i].name;
  return NULL;
}

/* {"segments":[names now], "changes":[newest first], "next_cursor"}. */
static px_status segments_page(px_txn *txn, const px_store *st, uint64_t pid, int limit, const char *cursor,
                               px_buf *out, px_error *err) {
  px_seg_change *ch = malloc((size_t)limit * sizeof *ch);
  if (!ch) return PX_NOMEM;
  size_t n = 0, ndefs = 0;
  char next[PX_SEG_CURSOR_LEN + 1];
  px_def *defs = NULL;
  px_psegs in = {0};
  px_status s = px_segment_history_page(txn, st, pid, cursor, (size_t)limit, ch, &n, next);
  if (s == PX_INVALID) px_error_set(err, s, "cursor", "not a cursor this API returned");
  if (s == PX_OK) s = px_def_list(txn, st, PX_DEF_SEGMENT, &defs, &ndefs);
  if (s == PX_OK) s = px_psegs_load(txn, st, pid, &in);
  if (s == PX_OK) {
    px_buf_puts(out, "{\"segments\":[");
    int k = 0;
    for (size_t i = 0; i < ndefs; i++) {
      if (!px_psegs_has(&in, defs[i].id)) continue;
      if (k++) px_buf_putc(out, ',');
      px_buf_json_str(out, defs[i].name, strlen(defs[i].name));
    }
    px_buf_puts(out, "],\"changes\":[");
    for (size_t i = 0; i < n; i++) {
      const char *name = seg_name(defs, ndefs, ch[i].segment);
      char at[32];
      px_time_format_iso(ch[i].time_ms, at);
      if (i) px_buf_putc(out, ',');
      px_buf_puts(out, "{\"segment\":");
      if (name) px_buf_json_str(out, name, strlen(name));
      else px_buf_puts(out, "null");
      px_buf_printf(out, ",\"segment_id\":%u,\"change\":\"%s\",\"at\":\"%s\",\"cause\":\"%s\"", ch[i].segment,
                    ch[i].entered ? "entered" : "left", at, px_seg_cause_name(ch[i].cause));
      if (ch[i].cause == PX_SEG_CAUSE_EVENT) px_buf_printf(out, ",\"seq\":%llu}", (unsigned long long)ch[i].seq);
      else px_buf_puts(out, ",\"seq\":null}");
    }
    if (next[0]) px_buf_printf(out, "],\"next_cursor\":\"%s\"}", next);
    else s = px_buf_puts(out, "],\"next_cursor\":null}");
  }
  for (size_t i = 0; i < ndefs; i++) px_def_free(&defs[i]);
  free(defs);
  px_psegs_free(&in);
  free(ch);
  return s;
}

/* Copies the first path segment into ref, decoding the %2F and %25 the HTTP
 * layer kept encoded (%00 stays as text: an identifier holds no NUL). */
static const char *split_ref(const char *rest, char *ref, size_t n) {
  size_t rn = strcspn(rest, "/"), w = 0;
  for (size_t i = 0; i < rn && w + 1 < n; i++) {
    if (rest[i] == '%' && i + 2 < rn && rest[i + 1] == '2' && (rest[i + 2] == 'F' || rest[i + 2] == '5')) {
      ref[w++] = rest[i + 2] == 'F' ? '/' : '%';
      i += 2;
    } else {
      ref[w++] = rest[i];
    }
  }
  ref[w] = 0;
  return rest[rn] == '/' ? rest + rn + 1 : NULL;
}

void px_api_profiles(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  px_txn *txn;
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
  const char *sub = split_ref(rest, ref, sizeof ref);
  const px_config *cfg = px_api_config_acquire(api, txn);
  uint64_t pid = 0;
  px_error err;
  px_error_clear(&err);
  px_status s = px_profile_find(txn, api->st, cfg, ref, &pid);
  if (s == PX_NOT_FOUND) {
    px_error_set(&err, s, "ref", "no profile has id or identifier \"%.200s\"", ref);
    px_api_error(resp, 404, "profile not found", &err);
    s = PX_OK;
  } else if (s != PX_OK) {
    /* reported below */
  } else if (!sub) {
    resp->status = 200;
    s = px_profile_render(txn, api->st, cfg, pid, NULL, &resp->body);
    if (s == PX_OK) s = px_api_profile_extras(txn, api->st, pid, px_time_now_ms(), &resp->body);
  } else if (strcmp(sub, "events") == 0 || strcmp(sub, "merges") == 0) {
    int events = sub[0] == 'e';
    int limit = px_api_parse_limit(px_http_query(req, "limit"), events ? 50 : 100, 1000);
    const char *cursor = px_http_query(req, "cursor");
    uint64_t before = !events && cursor && all_digits(cursor) && strlen(cursor) <= 19 ? strtoull(cursor, NULL, 10) : 0;
    if (!limit) {
      px_error_set(&err, PX_INVALID, "limit", "must be an integer from 1 to 1000");
      px_api_error(resp, 400, "invalid query", &err);
    } else if (!events && cursor && !before) {
      px_error_set(&err, PX_INVALID, "cursor", "not a cursor this API returned");
      px_api_error(resp, 400, "invalid query", &err);
    } else if (events) {
      resp->status = 200;
      s = px_profile_events(txn, api->st, pid, limit, cursor, &resp->body, &err);
      if (s == PX_INVALID) {
        px_api_error(resp, 400, "invalid query", &err);
        s = PX_OK;
      }
    } else {
      merge_page page = {&resp->body, limit, 0, before, 0, 0};
      resp->status = 200;
      px_buf_puts(&resp->body, "{\"merges\":[");
      s = px_identity_merges(txn, api->st, pid, merge_cb, &page);
      if (page.more)
        px_buf_printf(&resp->body, "],\"next_cursor\":\"%llu\"}", (unsigned long long)page.last);
      else
        px_buf_puts(&resp->body, "],\"next_cursor\":null}");
    }
  } else if (strcmp(sub, "segments") == 0) {
    int limit = px_api_parse_limit(px_http_query(req, "limit"), 100, 1000);
    if (!limit) {
      px_error_set(&err, PX_INVALID, "limit", "must be an integer from 1 to 1000");
      px_api_error(resp, 400, "invalid query", &err);
    } else {
      resp->status = 200;
      s = segments_page(txn, api->st, pid, limit, px_http_query(req, "cursor"), &resp->body, &err);
      if (s == PX_INVALID) {
        px_buf_reset(&resp->body);
        px_api_error(resp, 400, "invalid query", &err);
        s = PX_OK;
      }
    }
  } else {
    px_api_error(resp, 404, "no such endpoint", NULL);
  }
  /* Any failure after the profile was found is a server error, never a cut-off 200. */
  if (s != PX_OK) px_api_error(resp, 500, px_status_str(s), NULL);
  px_api_config_release(api);
  px_store_abort(txn);
}

void px_api_metrics(px_api *api, px_http_resp *resp) {
  uint64_t profiles = 0, merges = 0;
  px_txn *txn;
  if (px_store_begin(api->st, 0, &txn) == PX_OK) {
    px_store_counter(txn, api->st, "profiles", &profiles);
    px_store_counter(txn, api->st, "merges", &merges);
    px_store_abort(txn);
  }
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4";
  px_metrics_render(api->metrics, profiles, merges, &resp->body);
}
