/* GET /v1/profiles/{ref}[/events|/merges|/segments] and GET /metrics */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "identity/identity.h"
#include "profile/profile.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/journey.h"
#include "segment/members.h"
#include "store/key.h"

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

/* The timeline (/events): the profile's events (its timeline rows, which
 * hold those of the profiles merged into it) and the membership changes of
 * the profile and of every profile merged into it (their history stays
 * under their own ids), newest first. Timeline order, oldest first: time
 * (an event's timestamp, a change's time); then at one time an event's
 * seq, and a change caused by an event right after it (other changes
 * after every event of that time); then changes in history order
 * (px_seg_change_cmp) and by profile id, higher first (at a merge the
 * loser leaves before the survivor enters). It is total, so a page is the
 * newest limit items below the last item shown, and the cursor is that
 * item's place: every stream's position follows from it, whatever the
 * streams a page includes. */
enum { TL_EVENTS = 1, TL_SEGMENTS = 2 };

typedef struct tl_item {
  int64_t time_ms;
  int change;       /* 0: the event seq; 1: the change ch */
  uint64_t seq;
  px_seg_change ch;
} tl_item;

/* Where an item goes among the events of its time. */
static uint64_t tl_rank(const tl_item *x) {
  return !x->change ? x->seq : x->ch.cause == PX_SEG_CAUSE_EVENT ? x->ch.seq : UINT64_MAX;
}

static int tl_cmp(const tl_item *a, const tl_item *b) {
  uint64_t ra = tl_rank(a), rb = tl_rank(b);
  if (a->time_ms != b->time_ms) return a->time_ms < b->time_ms ? -1 : 1;
  if (ra != rb) return ra < rb ? -1 : 1;
  if (a->change != b->change || !a->change) return a->change - b->change;
  int c = px_seg_change_cmp(&a->ch, &b->ch);
  return c ? c : a->ch.pid > b->ch.pid ? -1 : a->ch.pid < b->ch.pid;
}

static int tl_newest_first(const void *a, const void *b) { return -tl_cmp(a, b); }

/* The newest keep (limit + 1) items of the streams read so far: items
 * fill 2 * keep slots, then are sorted and cut back to keep. */
typedef struct tl_page {
  tl_item *it;
  size_t n, keep;
  size_t taken; /* from the stream being read: none past keep can be in the page */
} tl_page;

static void tl_push(tl_page *p, const tl_item *x) {
  if (p->n == 2 * p->keep) {
    qsort(p->it, p->n, sizeof *p->it, tl_newest_first);
    p->n = p->keep;
  }
  p->it[p->n++] = *x;
  p->taken++;
}

static int tl_event_cb(void *arg, int64_t time_ms, uint64_t seq) {
  tl_page *p = arg;
  tl_item x = {time_ms, 0, seq, {0}};
  tl_push(p, &x);
  return p->taken == p->keep;
}

/* Events below at (NULL: from the newest); below a change, the events up
 * to its rank (the causing event included). */
static px_status tl_events(px_txn *txn, const px_store *st, uint64_t pid, const tl_item *at, tl_page *p) {
  p->taken = 0;
  px_timeline_pos pos = {at ? at->time_ms : 0, at ? tl_rank(at) : 0};
  return px_profile_events_before(txn, st, pid, at ? &pos : NULL, at && at->change, tl_event_cb, p);
}

static int tl_change_cb(void *arg, const px_seg_change *c) {
  tl_page *p = arg;
  tl_item x = {c->time_ms, 1, 0, *c};
  tl_push(p, &x);
  return p->taken == p->keep;
}

/* The membership changes of profile q below at (NULL: from the newest). */
static px_status tl_changes(px_txn *txn, const px_store *st, uint64_t q, const tl_item *at, tl_page *p) {
  p->taken = 0;
  if (!at) return px_segment_history_before(txn, st, q, NULL, 0, tl_change_cb, p);
  if (!at->change) { /* below an event: the changes of its time caused by earlier events, and before */
    px_seg_change b = {q, at->time_ms, 0, 0, PX_SEG_CAUSE_EVENT, at->seq};
    return px_segment_history_before(txn, st, q, &b, 0, tl_change_cb, p);
  }
  /* The same place in a profile of higher id sorts below the cursor's. */
  return px_segment_history_before(txn, st, q, &at->ch, q > at->ch.pid, tl_change_cb, p);
}

/* The profiles merged into the live profile (directly or not): the losers
 * of the merges listed under it that lead to it now. */
typedef struct tl_losers {
  px_txn *txn;
  const px_store *st;
  uint64_t live;
  uint64_t *ids;
  size_t n, cap;
  px_status s;
} tl_losers;

static int loser_cb(void *arg, uint64_t mid, const char *json, size_t n) {
  (void)mid;
  tl_losers *l = arg;
  cJSON *rec = cJSON_ParseWithLength(json, n);
  const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "loser"));
  uint64_t id = 0, live = 0;
  int ok = hex && px_profile_id_parse(hex, &id) && id != l->live;
  cJSON_Delete(rec);
  if (ok && (l->s = px_profile_live(l->txn, l->st, id, &live)) != PX_OK) return 1;
  if (!ok || live != l->live) return 0; /* (several records may name one profile: tl_unique) */
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    uint64_t *ids = realloc(l->ids, cap * sizeof *ids);
    if (!ids) {
      l->s = PX_NOMEM;
      return 1;
    }
    l->ids = ids, l->cap = cap;
  }
  l->ids[l->n++] = id;
  return 0;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts ids and drops repeats; returns how many are left. */
static size_t tl_unique(uint64_t *ids, size_t n) {
  size_t k = 0;
  if (n) qsort(ids, n, sizeof *ids, u64_cmp);
  for (size_t i = 0; i < n; i++)
    if (!k || ids[k - 1] != ids[i]) ids[k++] = ids[i];
  return k;
}

/* Reads digits (16 or 8) lowercase hex digits at s. */
static int hex_u64(const char *s, int digits, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < digits; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = v << 4 | (uint64_t)d;
  }
  *out = v;
  return 1;
}

/* Cursors: an event's place as 32 hex digits (timeline key after the
 * profile id: sortable time, seq; the format /events always had), a
 * change's as "s" + 56 hex digits (sortable time, cause << 56 | seq,
 * segment id, profile id). */
#define TL_CURSOR_MAX 58
static void tl_cursor_format(const tl_item *x, char out[TL_CURSOR_MAX]) {
  unsigned long long t = (unsigned long long)x->time_ms ^ (1ull << 63);
  if (!x->change) {
    snprintf(out, TL_CURSOR_MAX, "%016llx%016llx", t, (unsigned long long)x->seq);
    return;
  }
  unsigned long long cs = (unsigned long long)x->ch.cause << 56 | (x->ch.seq & ((1ull << 56) - 1));
  snprintf(out, TL_CURSOR_MAX, "s%016llx%016llx%08x%016llx", t, cs, (unsigned)x->ch.segment,
           (unsigned long long)x->ch.pid);
}

static int tl_cursor_parse(const char *s, tl_item *x) {
  uint64_t t, a, seg, pid;
  *x = (tl_item){0};
  size_t n = strlen(s);
  if (n == 32 && hex_u64(s, 16, &t) && hex_u64(s + 16, 16, &a)) {
    x->time_ms = (int64_t)(t ^ (1ull << 63));
    x->seq = a;
    return 1;
  }
  if (n != 57 || s[0] != 's' || !hex_u64(s + 1, 16, &t) || !hex_u64(s + 17, 16, &a) || !hex_u64(s + 33, 8, &seg) ||
      !hex_u64(s + 41, 16, &pid) || (a >> 56) > PX_SEG_CAUSE_SCORE)
    return 0;
  x->time_ms = (int64_t)(t ^ (1ull << 63));
  x->change = 1;
  x->ch = (px_seg_change){pid, x->time_ms, (uint32_t)seg, 0, (px_seg_cause)(a >> 56), a & ((1ull << 56) - 1)};
  return 1;
}

/* "events", "segments" or both, comma-separated: TL_* flags, 0 for anything else. */
static int tl_include_parse(const char *s) {
  int f = 0;
  for (;;) {
    size_t n = strcspn(s, ",");
    if (n == 6 && strncmp(s, "events", 6) == 0) f |= TL_EVENTS;
    else if (n == 8 && strncmp(s, "segments", 8) == 0) f |= TL_SEGMENTS;
    else return 0;
    if (!s[n]) return f;
    s += n + 1;
  }
}

static px_status tl_render_change(const px_seg_change *c, const px_def *defs, size_t ndefs, px_buf *out) {
  const char *name = seg_name(defs, ndefs, c->segment);
  char at[32], id[17];
  px_time_format_iso(c->time_ms, at);
  px_profile_id_format(c->pid, id);
  px_buf_printf(out, "{\"type\":\"segment\",\"event\":\"Segment %s\",\"segment\":", c->entered ? "Entered" : "Left");
  if (name) px_buf_json_str(out, name, strlen(name));
  else px_buf_puts(out, "null");
  px_buf_printf(out, ",\"segmentId\":%u,\"cause\":\"%s\",\"seq\":", c->segment, px_seg_cause_name(c->cause));
  if (c->cause == PX_SEG_CAUSE_EVENT) px_buf_printf(out, "%llu", (unsigned long long)c->seq);
  else px_buf_puts(out, "null");
  return px_buf_printf(out, ",\"profileId\":\"%s\",\"timestamp\":\"%s\"}", id, at);
}

/* {"events":[items newest first],"next_cursor"}; PX_INVALID (err) for a
 * cursor this API did not give. */
static px_status timeline_page(px_txn *txn, const px_store *st, uint64_t pid, int limit, int include,
                               const char *cursor, px_buf *out, px_error *err) {
  tl_item at;
  if (cursor && *cursor && !tl_cursor_parse(cursor, &at))
    return px_error_set(err, PX_INVALID, "cursor", "not a cursor this API returned");
  const tl_item *below = cursor && *cursor ? &at : NULL;
  tl_page p = {NULL, 0, (size_t)limit + 1, 0};
  tl_losers l = {txn, st, pid, NULL, 0, 0, PX_OK};
  px_def *defs = NULL;
  size_t ndefs = 0;
  px_status s = PX_OK;
  if (!(p.it = malloc(2 * p.keep * sizeof *p.it))) return PX_NOMEM;
  if (include & TL_EVENTS) s = tl_events(txn, st, pid, below, &p);
  if (s == PX_OK && (include & TL_SEGMENTS)) {
    if ((s = px_identity_merges(txn, st, pid, loser_cb, &l)) == PX_OK) s = l.s;
    l.n = tl_unique(l.ids, l.n);
    if (s == PX_OK) s = tl_changes(txn, st, pid, below, &p);
    for (size_t i = 0; s == PX_OK && i < l.n; i++) s = tl_changes(txn, st, l.ids[i], below, &p);
    if (s == PX_OK) s = px_def_list(txn, st, PX_DEF_SEGMENT, &defs, &ndefs);
  }
  if (s != PX_OK) goto out;
  qsort(p.it, p.n, sizeof *p.it, tl_newest_first);
  size_t n = p.n < (size_t)limit ? p.n : (size_t)limit;
  px_buf_puts(out, "{\"events\":[");
  for (size_t i = 0; s == PX_OK && i < n; i++) {
    if (i) px_buf_putc(out, ',');
    if (p.it[i].change) {
      s = tl_render_change(&p.it[i].ch, defs, ndefs, out);
      continue;
    }
    px_key ek;
    px_key_init(&ek);
    px_key_u64(&ek, p.it[i].seq);
    MDB_val e;
    size_t jn;
    if ((s = px_store_get(txn, st, PX_DB_EVENTS, ek.b, ek.n, &e)) != PX_OK) break;
    const char *json = px_event_rec_json(e.mv_data, e.mv_size, &jn);
    s = px_buf_append(out, json, jn);
  }
  if (s != PX_OK) goto out;
  if (p.n > (size_t)limit) {
    char next[TL_CURSOR_MAX];
    tl_cursor_format(&p.it[limit - 1], next);
    s = px_buf_printf(out, "],\"next_cursor\":\"%s\"}", next);
  } else {
    s = px_buf_puts(out, "],\"next_cursor\":null}");
  }
out:
  for (size_t i = 0; i < ndefs; i++) px_def_free(&defs[i]);
  free(defs);
  free(l.ids);
  free(p.it);
  return s;
}

const char *px_api_path_segment(const char *rest, char *ref, size_t n) {
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
  const char *sub = px_api_path_segment(rest, ref, sizeof ref);
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
      const char *inc = px_http_query(req, "include");
      int include = inc ? tl_include_parse(inc) : TL_EVENTS | TL_SEGMENTS;
      if (!include) {
        px_error_set(&err, PX_INVALID, "include", "must be events, segments or events,segments");
        px_api_error(resp, 400, "invalid query", &err);
      } else {
        resp->status = 200;
        s = timeline_page(txn, api->st, pid, limit, include, cursor, &resp->body, &err);
        if (s == PX_INVALID) {
          px_api_error(resp, 400, "invalid query", &err);
          s = PX_OK;
        }
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
  } else if (strcmp(sub, "journeys") == 0) {
    resp->status = 200;
    s = px_journey_of(txn, api->st, pid, px_time_now_ms(), &resp->body);
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
