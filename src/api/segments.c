/* Segments over the HTTP API (admin token):
 *   GET /v1/segments                          every segment, name order
 *   PUT|GET|DELETE /v1/segments/{name}        define or change / read / delete
 *   GET /v1/segments/{name}/members           member profile ids, paged
 *   POST /v1/audiences/count|members          set algebra over segments
 * A definition and its backfill run in the request thread in one write
 * transaction (px_segment_define): LMDB serializes it with the writer
 * thread, so events see the segment whole or not at all. Its progress goes
 * to /metrics (pickaxe_backfill_done of pickaxe_backfill_size). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "identity/identity.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"

#define MEMBERS_DEFAULT 100
#define MEMBERS_MAX 1000
#define AUDIENCE_MAX 32 /* segments in one audience */

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void segment_not_found(px_http_resp *resp, const char *field, const char *name) {
  px_api_fail(resp, 404, "segment not found", field, "no segment named \"%.128s\"", name);
}

/* The segment object: name, id, version, rule as given, its canonical form,
 * the current member count, created and updated. */
static px_status segment_json(px_txn *txn, const px_store *st, const px_def *d, px_buf *out) {
  uint64_t count = 0;
  px_status s = px_members_count(txn, st, d->id, &count);
  if (s != PX_OK) return s;
  cJSON *body = cJSON_Parse(d->body);
  const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "rule"));
  if (!rule) {
    cJSON_Delete(body);
    return PX_STORE;
  }
  char created[32], updated[32];
  px_time_format_iso(d->created_ms, created);
  px_time_format_iso(d->updated_ms, updated);
  px_buf_puts(out, "{\"name\":");
  px_buf_json_str(out, d->name, strlen(d->name));
  px_buf_printf(out, ",\"id\":%u,\"version\":%llu,\"rule\":", d->id, (unsigned long long)d->version);
  px_buf_json_str(out, rule, strlen(rule));
  px_buf_puts(out, ",\"canonical\":");
  px_rule *r = NULL;
  char *canon = malloc(PX_RULE_MAX_BYTES * 2);
  if (canon && px_rule_compile(rule, strlen(rule), PX_RULE_PROFILE, &r, NULL) == PX_OK &&
      px_rule_print(r, canon, PX_RULE_MAX_BYTES * 2) == PX_OK)
    px_buf_json_str(out, canon, strlen(canon));
  else
    px_buf_puts(out, "null"); /* a stored rule the language no longer reads */
  px_rule_free(r);
  free(canon);
  cJSON_Delete(body);
  return px_buf_printf(out, ",\"count\":%llu,\"created\":\"%s\",\"updated\":\"%s\"}", (unsigned long long)count,
                       created, updated);
}

/* 400 for a rule the engine refused: line and column when it points at the
 * text (a cycle between segments does not). */
static void rule_error(px_http_resp *resp, const px_rule_error *e) {
  resp->status = 400;
  px_buf_reset(&resp->body);
  px_buf_puts(&resp->body, "{\"success\":false,\"error\":\"invalid rule\",\"field\":\"rule\",\"reason\":");
  px_buf_json_str(&resp->body, e->message, strlen(e->message));
  px_buf_puts(&resp->body, ",\"message\":");
  px_buf_json_str(&resp->body, e->message, strlen(e->message));
  if (e->line > 0) px_buf_printf(&resp->body, ",\"line\":%d,\"column\":%d", e->line, e->column);
  px_buf_putc(&resp->body, '}');
}

/* The rule of a PUT body {"rule": "..."}; NULL when resp was filled. */
static const char *put_rule(const px_http_req *req, cJSON **root, px_http_resp *resp) {
  if (req->body_too_large) {
    px_api_fail(resp, 413, "payload too large", "", "request body larger than %d bytes", PX_MAX_REQUEST_BYTES);
    return NULL;
  }
  *root = cJSON_ParseWithLength(req->body, req->body_len);
  if (!cJSON_IsObject(*root)) {
    px_api_fail(resp, 400, "invalid request", "", "the body must be a JSON object {\"rule\": \"RULE\"}");
    return NULL;
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, *root) {
    if (!is(m->string, "rule")) {
      px_api_fail(resp, 400, "invalid request", m->string, "unknown member (a segment has only \"rule\")");
      return NULL;
    }
  }
  const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*root, "rule"));
  if (!rule) px_api_fail(resp, 400, "invalid request", "rule", "required: the rule's text as a string");
  else if (strlen(rule) > PX_RULE_MAX_BYTES)
    px_api_fail(resp, 400, "invalid request", "rule", "at most %d bytes", PX_RULE_MAX_BYTES);
  else if (!*rule) px_api_fail(resp, 400, "invalid request", "rule", "must not be empty");
  else return rule;
  return NULL;
}

static void put_segment(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_store_abort(txn);
  cJSON *root = NULL;
  const char *rule = put_rule(req, &root, resp);
  if (!rule) goto out;
  if (!px_def_name_ok(name)) {
    px_api_fail(resp, 400, "invalid request", "name",
                "a segment name is 1-127 characters of A-Z a-z 0-9 _ - . (no leading dot)");
    goto out;
  }
  if (!(txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp))) goto out;
  px_def d;
  px_rule_error e = {0};
  px_status g = px_def_get(txn, api->st, PX_DEF_SEGMENT, name, &d), s = g;
  int existed = g == PX_OK;
  if (existed) px_def_free(&d);
  if (g == PX_OK || g == PX_NOT_FOUND) {
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_segment_define(txn, api->st, cfg, name, rule, px_time_now_ms(), px_api_backfill_progress, api, &e);
    px_api_config_release(api);
  }
  if (s == PX_INVALID || s == PX_TOO_LARGE) {
    px_store_abort(txn);
    rule_error(resp, &e);
    goto out;
  }
  if (s == PX_OK && (s = px_def_get(txn, api->st, PX_DEF_SEGMENT, name, &d)) == PX_OK) {
    s = segment_json(txn, api->st, &d, &resp->body);
    px_def_free(&d);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = existed ? 200 : 201;
  else px_api_error(resp, s == PX_STORE_FULL || s == PX_DISK_FULL ? 507 : 500, px_status_str(s), NULL);
out:
  cJSON_Delete(root);
}

static void delete_segment(px_api *api, const px_http_req *req, const char *name, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_WRITE, resp);
  if (!txn) return;
  px_status s = PX_NOT_FOUND;
  if (px_def_name_ok(name)) {
    const px_config *cfg = px_api_config_acquire(api, txn);
    s = px_segment_delete(txn, api->st, cfg, name, px_time_now_ms());
    px_api_config_release(api);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) resp->status = 204;
  else if (s == PX_NOT_FOUND) segment_not_found(resp, "name", name);
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

static void list_segments(px_api *api, const px_http_req *req, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_def *defs = NULL;
  size_t n = 0;
  px_status s = px_def_list(txn, api->st, PX_DEF_SEGMENT, &defs, &n);
  px_buf_puts(&resp->body, "{\"segments\":[");
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    if (i) px_buf_putc(&resp->body, ',');
    s = segment_json(txn, api->st, &defs[i], &resp->body);
  }
  if (s == PX_OK) s = px_buf_puts(&resp->body, "]}");
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

/* limit and cursor of a members page; 0 when resp was filled (400). */
static int page_query(const px_http_req *req, int *limit, uint64_t *after, px_http_resp *resp) {
  *limit = px_api_parse_limit(px_http_query(req, "limit"), MEMBERS_DEFAULT, MEMBERS_MAX);
  const char *cursor = px_http_query(req, "cursor");
  *after = 0;
  if (!*limit) {
    px_api_fail(resp, 400, "invalid query", "limit", "must be an integer from 1 to %d", MEMBERS_MAX);
    return 0;
  }
  if (cursor && (!px_profile_id_parse(cursor, after) || !*after)) {
    px_api_fail(resp, 400, "invalid query", "cursor", "not a cursor this API returned");
    return 0;
  }
  return 1;
}

/* {"members":[{"id":...}...],"next_cursor":...} from up to limit + 1 ids. */
static px_status members_json(const uint64_t *ids, size_t n, int limit, px_buf *out) {
  size_t shown = n > (size_t)limit ? (size_t)limit : n;
  char id[17];
  px_buf_puts(out, "{\"members\":[");
  for (size_t i = 0; i < shown; i++) {
    px_profile_id_format(ids[i], id);
    px_buf_printf(out, "%s{\"id\":\"%s\"}", i ? "," : "", id);
  }
  if (n > shown) return px_buf_printf(out, "],\"next_cursor\":\"%s\"}", id);
  return px_buf_puts(out, "],\"next_cursor\":null}");
}

static void get_segment(px_api *api, const px_http_req *req, const char *name, int members, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  px_def d;
  px_status s = px_def_name_ok(name) ? px_def_get(txn, api->st, PX_DEF_SEGMENT, name, &d) : PX_NOT_FOUND;
  int have = s == PX_OK, limit = 0, answered = 0;
  uint64_t after = 0, *ids = NULL;
  if (s == PX_NOT_FOUND) {
    segment_not_found(resp, "name", name);
    answered = 1;
  } else if (s == PX_OK && !members) {
    s = segment_json(txn, api->st, &d, &resp->body);
  } else if (s == PX_OK && !(answered = !page_query(req, &limit, &after, resp))) {
    size_t n = 0;
    ids = malloc(((size_t)limit + 1) * sizeof *ids);
    s = ids ? px_members_page(txn, api->st, d.id, after, ids, (size_t)limit + 1, &n) : PX_NOMEM;
    if (s == PX_OK) s = members_json(ids, n, limit, &resp->body);
  }
  if (have) px_def_free(&d);
  free(ids);
  px_store_abort(txn);
  if (answered) return; /* 404 or 400 */
  if (s == PX_OK) resp->status = 200;
  else px_api_error(resp, 500, px_status_str(s), NULL);
}

void px_api_segments(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp) {
  int get = is(req->method, "GET") || is(req->method, "HEAD");
  if (!*rest) { /* /v1/segments */
    if (get) list_segments(api, req, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
    return;
  }
  const char *name = rest + 1; /* after the '/' */
  size_t nn = strcspn(name, "/");
  const char *sub = name[nn] == '/' ? name + nn + 1 : NULL;
  char buf[512]; /* longer than any name: a PUT says why it is refused */
  if (!nn || nn >= sizeof buf || (sub && !is(sub, "members"))) {
    px_api_error(resp, 404, "no such endpoint", NULL);
    return;
  }
  memcpy(buf, name, nn);
  buf[nn] = 0;
  if (sub) {
    if (get) get_segment(api, req, buf, 1, resp);
    else px_api_not_allowed(resp, "GET, HEAD");
  } else if (get) {
    get_segment(api, req, buf, 0, resp);
  } else if (is(req->method, "PUT")) {
    put_segment(api, req, buf, resp);
  } else if (is(req->method, "DELETE")) {
    delete_segment(api, req, buf, resp);
  } else {
    px_api_not_allowed(resp, "GET, HEAD, PUT, DELETE");
  }
}

/* ---- audiences ---- */

typedef struct audience {
  uint32_t segs[AUDIENCE_MAX];
  px_set_op ops[AUDIENCE_MAX - 1];
  int n;
} audience;

/* Reads {"segments": [NAME...], "ops": [OP...]} (n names, n - 1 ops of
 * union, intersect, minus; ops may be left out for one segment); 0 when
 * resp was filled. */
static int parse_audience(px_txn *txn, const px_store *st, const px_http_req *req, audience *a, px_http_resp *resp) {
  int ok = 0;
  if (req->body_too_large) {
    px_api_fail(resp, 413, "payload too large", "", "request body larger than %d bytes", PX_MAX_REQUEST_BYTES);
    return 0;
  }
  cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
  const cJSON *segs = cJSON_GetObjectItemCaseSensitive(root, "segments");
  const cJSON *ops = cJSON_GetObjectItemCaseSensitive(root, "ops"), *m;
  if (!cJSON_IsObject(root)) {
    px_api_fail(resp, 400, "invalid request", "", "the body must be a JSON object {\"segments\": [...], \"ops\": [...]}");
    goto out;
  }
  cJSON_ArrayForEach(m, root) {
    if (!is(m->string, "segments") && !is(m->string, "ops")) {
      px_api_fail(resp, 400, "invalid request", m->string, "unknown member (an audience has \"segments\" and \"ops\")");
      goto out;
    }
  }
  int n = cJSON_GetArraySize(segs);
  if (!cJSON_IsArray(segs) || n < 1 || n > AUDIENCE_MAX) {
    px_api_fail(resp, 400, "invalid request", "segments", "must be an array of 1 to %d segment names", AUDIENCE_MAX);
    goto out;
  }
  if ((ops || n > 1) && (!cJSON_IsArray(ops) || cJSON_GetArraySize(ops) != n - 1)) {
    px_api_fail(resp, 400, "invalid request", "ops", "must be an array of %d operations (one fewer than segments)", n - 1);
    goto out;
  }
  for (int i = 0; i < n - 1; i++) {
    const char *op = cJSON_GetStringValue(cJSON_GetArrayItem(ops, i));
    char field[32];
    snprintf(field, sizeof field, "ops[%d]", i);
    if (op && is(op, "union")) a->ops[i] = PX_SET_UNION;
    else if (op && is(op, "intersect")) a->ops[i] = PX_SET_INTERSECT;
    else if (op && is(op, "minus")) a->ops[i] = PX_SET_MINUS;
    else {
      px_api_fail(resp, 400, "invalid request", field, "must be \"union\", \"intersect\" or \"minus\"");
      goto out;
    }
  }
  for (a->n = 0; a->n < n; a->n++) {
    const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(segs, a->n));
    char field[32];
    snprintf(field, sizeof field, "segments[%d]", a->n);
    if (!name) {
      px_api_fail(resp, 400, "invalid request", field, "must be a segment name");
      goto out;
    }
    px_def d;
    px_status s = px_def_name_ok(name) ? px_def_get(txn, st, PX_DEF_SEGMENT, name, &d) : PX_NOT_FOUND;
    if (s == PX_NOT_FOUND) {
      segment_not_found(resp, field, name);
      goto out;
    }
    if (s != PX_OK) {
      px_api_error(resp, 500, px_status_str(s), NULL);
      goto out;
    }
    a->segs[a->n] = d.id;
    px_def_free(&d);
  }
  ok = 1;
out:
  cJSON_Delete(root);
  return ok;
}

typedef struct audience_page {
  uint64_t after, *ids;
  size_t n, cap; /* cap = limit + 1: one more tells there is a next page */
} audience_page;

static int page_cb(void *arg, const uint64_t *pids, size_t n) {
  audience_page *p = arg;
  for (size_t i = 0; i < n && p->n < p->cap; i++)
    if (pids[i] > p->after) p->ids[p->n++] = pids[i];
  return p->n == p->cap;
}

void px_api_audiences(px_api *api, const px_http_req *req, const char *what, px_http_resp *resp) {
  px_txn *txn = px_api_admin_begin(api, req, PX_TXN_READ, resp);
  if (!txn) return;
  audience a;
  int members = is(what, "members"), limit = 0;
  audience_page page = {0};
  if (!parse_audience(txn, api->st, req, &a, resp) || (members && !page_query(req, &limit, &page.after, resp))) {
    px_store_abort(txn);
    return;
  }
  uint64_t count = 0;
  px_status s;
  if (!members) {
    s = a.n == 1 ? px_members_count(txn, api->st, a.segs[0], &count)
                 : px_members_combine(txn, api->st, a.segs, a.ops, a.n, NULL, NULL, &count);
    if (s == PX_OK) s = px_buf_printf(&resp->body, "{\"count\":%llu}", (unsigned long long)count);
  } else {
    page.cap = (size_t)limit + 1;
    page.ids = malloc(page.cap * sizeof *page.ids);
    s = page.ids ? px_members_combine(txn, api->st, a.segs, a.ops, a.n, page_cb, &page, &count) : PX_NOMEM;
    if (s == PX_OK) s = members_json(page.ids, page.n, limit, &resp->body);
    free(page.ids);
  }
  px_store_abort(txn);
  if (s == PX_OK) resp->status = 200;
  else px_api_error(resp, 500, px_status_str(s), NULL);
}
