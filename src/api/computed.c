/* Computed traits over the HTTP API (admin token):
 *   GET /v1/computed-traits                     every computed trait, name order
 *   PUT|GET|DELETE /v1/computed-traits/{name}   define or change / read / delete
 * and the profile view's "segments" and "computed" members. Definitions run
 * in one write transaction in the request thread, as segments do. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "score/scores.h"
#include "segment/members.h"
#include "segment/rfm_refresh.h"

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void ctrait_not_found(px_http_resp *resp, const char *name) {
  px_api_fail(resp, 404, "computed trait not found", "name", "no computed trait named \"%.128s\"", name);
}

/* {"name","id","version","definition","created","updated"}: definition is
 * the stored JSON as it was given (name included). */
static px_status ctrait_json(const px_def *d, px_buf *out) {
  char created[32], updated[32];
  px_time_format_iso(d->created_ms, created);
  px_time_format_iso(d->updated_ms, updated);
  px_buf_puts(out, "{\"name\":");
  px_buf_json_str(out, d->name, strlen(d->name));
  px_buf_printf(out, ",\"id\":%u,\"version\":%llu,\"definition\":", d->id, (unsigned long long)d->version);
  px_buf_puts(out, d->body);
  return px_buf_printf(out, ",\"created\":\"%s\",\"updated\":\"%s\"}", created, updated);
}

/* The PUT body with "name" filled from the path (or checked against it),
 * as compact JSON (malloc'd); NULL when resp was filled. */
static char *put_body(const px_http_req *req, const char *name, px_http_resp *resp) {
  if (req->body_too_large) {
    px_api_fail(resp, 413, "payload too large", "", "request body larger than %d bytes", PX_MAX_REQUEST_BYTES);
    return NULL;
  }
  if (!px_def_name_ok(name)) {
    px_api_fail(resp, 400, "invalid request", "name",
                "a computed trait name is 1-127 characters of A-Z a-z 0-9 _ - . (no leading dot)");
    return NULL;
  }
  char *text = NULL;
  cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
  const cJSON *given = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (!cJSON_IsObject(root))
    px_api_fail(resp, 400, "invalid request", "", "the body must be a JSON object (a computed trait definition)");
  else if (given && (!cJSON_IsString(given) || !is(given->valuestring, name)))
    px_api_fail(resp, 400, "invalid request", "name", "must be the name in the path (\"%.128s\") or left out", name);
  else if (!given && !cJSON_AddStringToObject(root, "name", name))
    px_api_error(resp, 500, px_status_str(PX_NOMEM), NULL);
  else if (!(text = cJSON_PrintUnformatted(root)))
    px_api_error(resp, 500, px_status_str(PX_NOMEM), NULL);
  else if (strlen(text) > PX_DEF_BODY_MAX) {
    px_api_fail(resp, 400, "invalid request", "", "a definition is at most %d bytes", PX_DEF_BODY_MAX);
    cJSON_free(text);
    text = NULL;
  }
  cJSON_Delete(root);
  return text;
}

static void put_ctrait(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_store_abort(txn);
  char *text = put_body(req, name, resp);
  if (!text || !(txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp))) goto out;
  px_def d;
  px_error err;
  px_error_clear(&err);
  px_status s = px_def_get(txn, api->st, PX_DEF_CTRAIT, name, &d);
  int existed = s == PX_OK;
  if (existed) px_def_free(&d);
  if (s == PX_OK || s == PX_NOT_FOUND) {
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_ctrait_define(txn, api->st, cfg, text, strlen(text), px_time_now_ms(), px_api_backfill_progress, api, &err);
    px_api_config_release(api);
  }
  if (s == PX_INVALID) {
    px_store_abort(txn);
    px_api_error(resp, 400, "invalid computed trait", &err);
    goto out;
  }
  if (s == PX_OK && (s = px_def_get(txn, api->st, PX_DEF_CTRAIT, name, &d)) == PX_OK) {
    s = ctrait_json(&d, &resp->body);
    px_def_free(&d);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = existed ? 200 : 201;
  else px_api_error(resp, 500, px_status_str(s), NULL);
out:
  cJSON_free(text);
}

static void delete_ctrait(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_status s = PX_NOT_FOUND;
  if (px_def_name_ok(name)) {
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_ctrait_delete(txn, api->st, cfg, name, px_time_now_ms());
    px_api_config_release(api);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 204;
  else if (s == PX_NOT_FOUND) ctrait_not_found(resp, name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void get_ctraits(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_status s;
  if (name) {
    px_def d;
    s = px_def_name_ok(name) ? px_def_get(txn, api->st, PX_DEF_CTRAIT, name, &d) : PX_NOT_FOUND;
    if (s == PX_OK) {
      s = ctrait_json(&d, &resp->body);
      px_def_free(&d);
    }
  } else {
    px_def *defs = NULL;
    size_t n = 0;
    s = px_def_list(txn, api->st, PX_DEF_CTRAIT, &defs, &n);
    px_buf_puts(&resp->body, "{\"computed_traits\":[");
    for (size_t i = 0; i < n && s == PX_OK; i++) {
      if (i) px_buf_putc(&resp->body, ',');
      s = ctrait_json(&defs[i], &resp->body);
    }
    if (s == PX_OK) s = px_buf_puts(&resp->body, "]}");
    for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
    free(defs);
  }
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else if (s == PX_NOT_FOUND) ctrait_not_found(resp, name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

void px_api_ctraits(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int get = is(req->method, "GET") || is(req->method, "HEAD");
  if (!*rest) { /* /v1/computed-traits */
    if (get) get_ctraits(api, req, NULL, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
    return;
  }
  const char *name = rest + 1;
  if (!*name || strchr(name, '/') || strlen(name) >= 512) {
    px_api_error(resp, 404, "no such endpoint", NULL);
    return;
  }
  if (get) get_ctraits(api, req, name, resp);
  else if (is(req->method, "PUT")) put_ctrait(api, req, name, resp);
  else if (is(req->method, "DELETE")) delete_ctrait(api, req, name, resp);
  else px_api_not_allowed(resp, "GET, HEAD, PUT, DELETE");
}

/* ---- the profile view ---- */

static px_status value_json(const px_rule_value *v, px_buf *out) {
  char t[32];
  switch (v->type) {
  case PX_RV_BOOL: return px_buf_puts(out, v->b ? "true" : "false");
  case PX_RV_NUM:
    if (!isfinite(v->n)) return px_buf_puts(out, "null");
    snprintf(t, sizeof t, "%.15g", v->n);
    if (strtod(t, NULL) != v->n) snprintf(t, sizeof t, "%.17g", v->n);
    return px_buf_puts(out, t);
  case PX_RV_STR: return px_buf_json_str(out, v->s, v->len);
  case PX_RV_TIME:
    px_time_format_iso(v->t, t);
    return px_buf_printf(out, "\"%s\"", t);
  default: return px_buf_puts(out, "null");
  }
}

/* ,"scores":{...}: rfm_* scores as one object "rfm" (names without the
 * prefix, and the refresh time), any other score by its name. */
typedef struct scores_out {
  px_buf *out;
  int n, rfm; /* members written; rfm object open */
} scores_out;

static int score_cb(void *arg, const char *name, const px_score *v) {
  scores_out *o = arg;
  int in_rfm = strncmp(name, "rfm_", 4) == 0;
  if (in_rfm && o->rfm == 1) {
    px_buf_putc(o->out, ',');
  } else {
    if (o->rfm == 1) px_buf_putc(o->out, '}'), o->rfm = -1; /* rfm_* names come together, in name order */
    if (o->n++) px_buf_putc(o->out, ',');
    if (in_rfm) px_buf_puts(o->out, "\"rfm\":{"), o->rfm = 1;
  }
  const char *shown = in_rfm ? name + 4 : name;
  px_buf_json_str(o->out, shown, strlen(shown));
  px_buf_putc(o->out, ':');
  px_rule_value rv = {.type = v->type == PX_SCORE_NUM ? PX_RV_NUM : PX_RV_STR, .n = v->n, .s = v->s, .len = v->len};
  value_json(&rv, o->out);
  return 0;
}

static px_status scores_json(px_txn *txn, const px_store *st, uint64_t pid, px_buf *out) {
  px_buf_puts(out, ",\"scores\":{");
  scores_out o = {out, 0, 0};
  px_status s = px_score_each(txn, st, pid, score_cb, &o);
  if (s == PX_OK && o.rfm == 1) {
    px_score last;
    if ((s = px_score_read(txn, st, PX_SCORE_GLOBAL, PX_RFM_SUMMARY, &last)) == PX_OK) {
      char at[32];
      px_time_format_iso(last.since_ms, at);
      px_buf_printf(out, ",\"refreshed_at\":\"%s\"", at);
    } else if (s == PX_NOT_FOUND) {
      s = PX_OK;
    }
    px_buf_putc(out, '}');
  }
  return s == PX_OK ? px_buf_putc(out, '}') : s;
}

/* The definitions a profile's extras need, read and parsed once. */
struct px_api_extras {
  px_def *segs; /* segment definitions (names by id) */
  size_t nsegs;
  px_ctrait *ctraits; /* computed traits, parsed, in name order */
  size_t nctraits;
};

void px_api_extras_close(px_api_extras *x) {
  if (!x) return;
  for (size_t i = 0; i < x->nsegs; i++) px_def_free(&x->segs[i]);
  for (size_t i = 0; i < x->nctraits; i++) px_ctrait_free(&x->ctraits[i]);
  free(x->segs);
  free(x->ctraits);
  free(x);
}

px_status px_api_extras_open(px_txn *txn, const px_store *st, px_api_extras **out) {
  px_api_extras *x = calloc(1, sizeof *x);
  if (!x) return PX_NOMEM;
  px_def *defs = NULL;
  size_t n = 0;
  px_status s = px_def_list(txn, st, PX_DEF_SEGMENT, &x->segs, &x->nsegs);
  if (s == PX_OK) s = px_def_list(txn, st, PX_DEF_CTRAIT, &defs, &n);
  if (s == PX_OK && n && !(x->ctraits = calloc(n, sizeof *x->ctraits))) s = PX_NOMEM;
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    cJSON *body = cJSON_Parse(defs[i].body);
    s = body && px_ctrait_parse(body, &x->ctraits[i], NULL) == PX_OK ? PX_OK : PX_STORE;
    cJSON_Delete(body);
    if (s == PX_OK) x->nctraits++;
  }
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  if (s != PX_OK) {
    px_api_extras_close(x);
    return s;
  }
  *out = x;
  return PX_OK;
}

px_status px_api_extras_write(const px_api_extras *x, px_txn *txn, const px_store *st, uint64_t pid,
                              int64_t now_ms, px_buf *out) {
  if (!out->len || out->data[out->len - 1] != '}') return PX_STORE;
  out->len--; /* reopen the object */
  px_buf_puts(out, ",\"segments\":[");
  int k = 0;
  px_psegs in = {0};
  px_status s = px_psegs_load(txn, st, pid, &in);
  for (size_t i = 0; i < x->nsegs && s == PX_OK; i++) {
    if (px_psegs_has(&in, x->segs[i].id)) {
      if (k++) px_buf_putc(out, ',');
      px_buf_json_str(out, x->segs[i].name, strlen(x->segs[i].name));
    }
  }
  /* The stage in each journey model: the journey.MODEL.STAGE segment it is
   * in (stage segments are exclusive; segment/journey.h). */
  px_buf_puts(out, "],\"journeys\":{");
  k = 0;
  for (size_t i = 0; i < x->nsegs && s == PX_OK; i++) {
    const char *name = x->segs[i].name, *dot = strncmp(name, "journey.", 8) == 0 ? strchr(name + 8, '.') : NULL;
    if (!dot || !px_psegs_has(&in, x->segs[i].id)) continue;
    if (k++) px_buf_putc(out, ',');
    px_buf_json_str(out, name + 8, (size_t)(dot - name - 8));
    px_buf_putc(out, ':');
    px_buf_json_str(out, dot + 1, strlen(dot + 1));
  }
  px_psegs_free(&in);
  px_buf_puts(out, "},\"computed\":{");
  px_buf scratch;
  px_buf_init(&scratch, 0);
  for (size_t i = 0; i < x->nctraits && s == PX_OK; i++) {
    px_rule_value v;
    if ((s = px_ctrait_value_of(txn, st, pid, &x->ctraits[i], now_ms, &scratch, &v)) != PX_OK) break;
    if (i) px_buf_putc(out, ',');
    px_buf_json_str(out, x->ctraits[i].name, strlen(x->ctraits[i].name));
    px_buf_putc(out, ':');
    s = value_json(&v, out);
  }
  px_buf_free(&scratch);
  if (s == PX_OK) s = px_buf_putc(out, '}');
  if (s == PX_OK) s = scores_json(txn, st, pid, out);
  if (s == PX_OK) s = px_buf_putc(out, '}');
  return s;
}

px_status px_api_profile_extras(px_txn *txn, const px_store *st, uint64_t pid, int64_t now_ms, px_buf *out) {
  px_api_extras *x;
  px_status s = px_api_extras_open(txn, st, &x);
  if (s != PX_OK) return s;
  s = px_api_extras_write(x, txn, st, pid, now_ms, out);
  px_api_extras_close(x);
  return s;
}
