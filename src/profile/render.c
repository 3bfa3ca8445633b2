#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "identity/identity.h"
#include "profile/profile.h"
#include "profile/profile_int.h"
#include "source/source.h"
#include "store/key.h"

typedef struct ctx {
  px_txn *txn;
  const px_store *st;
  const px_config *cfg;
  px_buf *out;
  px_source *sources;
  size_t nsources;
  int first;
} ctx;

static const px_source *source_of(const ctx *c, uint32_t id) {
  for (size_t i = 0; i < c->nsources; i++)
    if (c->sources[i].id == id) return &c->sources[i];
  return NULL;
}

static void put_time(px_buf *b, const char *name, int64_t ms) {
  char t[32];
  px_time_format_iso(ms, t);
  px_buf_printf(b, "\"%s\":\"%s\"", name, t);
}

static void put_source(const ctx *c, uint32_t id) {
  const px_source *s = source_of(c, id);
  px_buf_puts(c->out, "\"source\":");
  if (s)
    px_buf_json_str(c->out, s->name, strlen(s->name));
  else
    px_buf_puts(c->out, "null");
}

static int ident_cb(void *arg, const char *kind, const char *value, int64_t first_seen,
                    uint32_t source_id) {
  ctx *c = arg;
  px_buf_printf(c->out, "%s{\"kind\":\"%s\",\"value\":", c->first ? "" : ",", kind);
  px_buf_json_str(c->out, value, strlen(value));
  px_buf_putc(c->out, ',');
  put_time(c->out, "first_seen", first_seen);
  px_buf_putc(c->out, ',');
  put_source(c, source_id);
  px_buf_putc(c->out, '}');
  c->first = 0;
  return 0;
}

typedef px_trait_row obs_row;

typedef struct trait_rows {
  char name[PX_KEY_MAX];
  obs_row *rows;
  size_t n, cap;
} trait_rows;

/* The trait's golden value (golden.c): rows are in key order. */
static const obs_row *golden(const ctx *c, const trait_rows *t, px_golden *g) {
  px_golden_init(g, px_config_trait_rule(c->cfg, t->name));
  for (size_t i = 0; i < t->n; i++) px_golden_add(g, &t->rows[i]);
  return px_golden_result(g);
}

static int by_last_desc(const void *a, const void *b) {
  const obs_row *x = a, *y = b;
  if (x->o.last != y->o.last) return x->o.last < y->o.last ? 1 : -1;
  return x->o.last_seq < y->o.last_seq ? 1 : x->o.last_seq > y->o.last_seq ? -1 : 0;
}

/* Renders "traits":{...} and, when history, "trait_history":{...}. */
static px_status render_traits(ctx *c, uint64_t entity, int history) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(c->txn, PX_DB_TRAITS), px_store_dbi(c->st, PX_DB_TRAITS), &cur);
  if (rc) return px_store_status(rc);
  trait_rows *traits = NULL;
  size_t nt = 0, capt = 0;
  px_status s = PX_OK;
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, entity);
  MDB_val k = {pre.n, pre.b}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 8 + 1 + 12 || px_get_u64(k.mv_data) != entity) break;
    const char *name = (const char *)k.mv_data + 8;
    size_t nl = k.mv_size - 8 - 12 - 1;
    if (!nt || strlen(traits[nt - 1].name) != nl || memcmp(traits[nt - 1].name, name, nl) != 0) {
      if (nt == capt) {
        capt = capt ? capt * 2 : 16;
        trait_rows *p = realloc(traits, capt * sizeof *p);
        if (!p) {
          s = PX_NOMEM;
          break;
        }
        traits = p;
      }
      memcpy(traits[nt].name, name, nl);
      traits[nt].name[nl] = 0;
      traits[nt].rows = NULL;
      traits[nt].n = traits[nt].cap = 0;
      nt++;
    }
    trait_rows *t = &traits[nt - 1];
    if (t->n == t->cap) {
      t->cap = t->cap ? t->cap * 2 : 4;
      obs_row *p = realloc(t->rows, t->cap * sizeof *p);
      if (!p) {
        s = PX_NOMEM;
        break;
      }
      t->rows = p;
    }
    obs_row *row = &t->rows[t->n++];
    const char *tail = (const char *)k.mv_data + k.mv_size - 12;
    row->hash = px_get_u64(tail);
    row->source = px_get_u32(tail + 8);
    memcpy(&row->o, v.mv_data, sizeof row->o);
    row->json = (const char *)v.mv_data + sizeof row->o;
    row->json_len = v.mv_size - sizeof row->o;
    const px_source *src = source_of(c, row->source);
    row->priority = src ? src->priority : 0;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s == PX_OK) {
    px_buf_puts(c->out, "\"traits\":{");
    for (size_t i = 0; i < nt; i++) {
      px_golden pick;
      const obs_row *g = golden(c, &traits[i], &pick);
      px_buf_printf(c->out, "%s", i ? "," : "");
      px_buf_json_str(c->out, traits[i].name, strlen(traits[i].name));
      px_buf_putc(c->out, ':');
      px_buf_append(c->out, g->json, g->json_len);
    }
    px_buf_putc(c->out, '}');
  }
  if (s == PX_OK && history) {
    px_buf_puts(c->out, ",\"trait_history\":{");
    for (size_t i = 0; i < nt; i++) {
      trait_rows *t = &traits[i];
      qsort(t->rows, t->n, sizeof *t->rows, by_last_desc);
      px_buf_printf(c->out, "%s", i ? "," : "");
      px_buf_json_str(c->out, t->name, strlen(t->name));
      px_buf_puts(c->out, ":[");
      /* The most recent values; every value stays stored. */
      for (size_t j = 0; j < t->n && j < PX_TRAIT_HISTORY_MAX; j++) {
        const obs_row *r = &t->rows[j];
        px_buf_printf(c->out, "%s{\"value\":", j ? "," : "");
        px_buf_append(c->out, r->json, r->json_len);
        px_buf_putc(c->out, ',');
        put_source(c, r->source);
        px_buf_putc(c->out, ',');
        put_time(c->out, "first_observed", r->o.first);
        px_buf_putc(c->out, ',');
        put_time(c->out, "last_observed", r->o.last);
        px_buf_printf(c->out, ",\"count\":%u}", r->o.count);
      }
      px_buf_putc(c->out, ']');
    }
    px_buf_putc(c->out, '}');
  }
  for (size_t i = 0; i < nt; i++) free(traits[i].rows);
  free(traits);
  return s;
}

static int add_count(px_count **all, size_t *n, size_t *cap, px_count e) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    px_count *p = realloc(*all, nc * sizeof *p);
    if (!p) return 0;
    *all = p;
    *cap = nc;
  }
  (*all)[(*n)++] = e;
  return 1;
}

/* Name counts in key order (as LMDB sorts: bytes, then length). */
static int cmp_count(const void *x, const void *y) {
  const px_count *a = x, *b = y;
  int d = memcmp(a->name, b->name, a->n < b->n ? a->n : b->n);
  return d ? d : (a->n > b->n) - (a->n < b->n);
}

/* One class of name counts: those in the record and those in rows, summed. */
static px_status render_class(ctx *c, uint64_t pid, char cls, const unsigned char *tail, size_t tail_n) {
  px_count *all = NULL, e;
  size_t n = 0, cap = 0;
  px_status s = PX_OK;
  for (size_t off = 0, next; (next = px_counts_next(tail, tail_n, off, &e)) != 0; off = next) {
    if (e.cls == cls && !add_count(&all, &n, &cap, e)) {
      free(all);
      return PX_NOMEM;
    }
  }
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(c->txn, PX_DB_COUNTS), px_store_dbi(c->st, PX_DB_COUNTS), &cur);
  if (rc) {
    free(all);
    return px_store_status(rc);
  }
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  px_key_u8(&pre, (uint8_t)cls);
  MDB_val k = {pre.n, pre.b}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < pre.n || memcmp(k.mv_data, pre.b, pre.n) != 0) break;
    e = (px_count){cls, (const char *)k.mv_data + pre.n, k.mv_size - pre.n, 0};
    memcpy(&e.count, v.mv_data, 8);
    if (!add_count(&all, &n, &cap, e)) {
      s = PX_NOMEM;
      break;
    }
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s == PX_OK) {
    if (n) qsort(all, n, sizeof *all, cmp_count); /* qsort wants a non-null array */
    px_buf_putc(c->out, '{');
    for (size_t i = 0; i < n; i++) {
      if (i) px_buf_putc(c->out, ',');
      uint64_t sum = all[i].count;
      while (i + 1 < n && cmp_count(&all[i], &all[i + 1]) == 0) sum += all[++i].count;
      px_buf_json_str(c->out, all[i].name, all[i].n);
      px_buf_printf(c->out, ":%llu", (unsigned long long)sum);
    }
    px_buf_putc(c->out, '}');
  }
  free(all);
  return s;
}

static px_status render_counts(ctx *c, uint64_t pid, const px_profile_rec *r) {
  static const struct {
    char cls;
    const char *name;
  } classes[] = {{'e', "by_event"}, {'p', "by_page"}, {'s', "by_screen"}};
  px_buf_printf(c->out, "\"counts\":{\"events\":%llu,\"by_type\":{", (unsigned long long)r->events);
  int first_type = 1;
  for (int t = PX_EV_IDENTIFY; t <= PX_EV_ALIAS; t++) { /* alphabetical order, as before */
    static const int order[] = {PX_EV_ALIAS, PX_EV_GROUP, PX_EV_IDENTIFY, PX_EV_PAGE, PX_EV_SCREEN, PX_EV_TRACK};
    int ty = order[t - PX_EV_IDENTIFY];
    if (!r->by_type[ty]) continue;
    px_buf_printf(c->out, "%s\"%s\":%llu", first_type ? "" : ",", px_event_type_name((px_event_type)ty),
                  (unsigned long long)r->by_type[ty]);
    first_type = 0;
  }
  px_buf_putc(c->out, '}');
  /* The counts kept in the record follow its fixed part. */
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  MDB_val v;
  px_status s = px_store_get(c->txn, c->st, PX_DB_PROFILES, k.b, k.n, &v);
  if (s != PX_OK) return s;
  const unsigned char *tail = (const unsigned char *)v.mv_data + sizeof *r;
  size_t tail_n = v.mv_size > sizeof *r ? v.mv_size - sizeof *r : 0;
  for (size_t i = 0; i < sizeof classes / sizeof *classes && s == PX_OK; i++) {
    px_buf_printf(c->out, ",\"%s\":", classes[i].name);
    s = render_class(c, pid, classes[i].cls, tail, tail_n);
  }
  px_buf_putc(c->out, '}');
  return s;
}

static px_status render_accounts(ctx *c, uint64_t pid) {
  px_buf_puts(c->out, "\"accounts\":[");
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(c->txn, PX_DB_LINKS), px_store_dbi(c->st, PX_DB_LINKS), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  px_status s = PX_OK;
  int first = 1;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 16 || px_get_u64(k.mv_data) != pid) break;
    uint64_t aid = px_get_u64((char *)k.mv_data + 8);
    px_obs o;
    memcpy(&o, v.mv_data, sizeof o);
    px_key ik;
    px_key_init(&ik);
    px_key_u8(&ik, 'i');
    px_key_u64(&ik, aid);
    MDB_val g;
    if ((s = px_store_get(c->txn, c->st, PX_DB_ACCOUNTS, ik.b, ik.n, &g)) != PX_OK) break;
    px_buf_puts(c->out, first ? "{\"group_id\":" : ",{\"group_id\":");
    px_buf_json_str(c->out, g.mv_data, g.mv_size);
    px_buf_putc(c->out, ',');
    put_time(c->out, "first_seen", o.first);
    px_buf_putc(c->out, ',');
    put_time(c->out, "last_seen", o.last);
    px_buf_putc(c->out, ',');
    if ((s = render_traits(c, aid, 0)) != PX_OK) break;
    px_buf_putc(c->out, '}');
    first = 0;
  }
  mdb_cursor_close(cur);
  if (s != PX_OK) return s;
  if (rc != 0 && rc != MDB_NOTFOUND) return px_store_status(rc);
  px_buf_putc(c->out, ']');
  return PX_OK;
}

static px_status render_timeline(ctx *c, uint64_t pid) {
  px_buf_puts(c->out, ",\"timeline\":[");
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(c->txn, PX_DB_TIMELINE), px_store_dbi(c->st, PX_DB_TIMELINE), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  int first = 1;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 24 || px_get_u64(k.mv_data) != pid) break;
    px_buf_printf(c->out, "%s%llu", first ? "" : ",",
                  (unsigned long long)px_get_u64((char *)k.mv_data + 16));
    first = 0;
  }
  mdb_cursor_close(cur);
  px_buf_putc(c->out, ']');
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

px_status px_profile_render(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid,
                            const px_render_opts *opts, px_buf *out) {
  px_profile_rec r;
  px_status s = px_profile_get(txn, st, pid, &r);
  if (s != PX_OK) return s;
  ctx c = {txn, st, cfg, out, NULL, 0, 1};
  if ((s = px_source_list(txn, st, &c.sources, &c.nsources)) != PX_OK) return s;
  char id[17];
  px_profile_id_format(pid, id);
  px_buf_printf(out, "{\"id\":\"%s\",", id);
  put_time(out, "created_at", r.created_ms);
  px_buf_putc(out, ',');
  put_time(out, "first_seen", r.first_seen);
  px_buf_putc(out, ',');
  put_time(out, "last_seen", r.last_seen);
  px_buf_puts(out, ",\"identifiers\":[");
  if ((s = px_identity_each(txn, st, pid, ident_cb, &c)) != PX_OK) goto out;
  px_buf_puts(out, "],");
  if ((s = render_traits(&c, pid, 1)) != PX_OK) goto out;
  px_buf_putc(out, ',');
  if ((s = render_counts(&c, pid, &r)) != PX_OK) goto out;
  px_buf_putc(out, ',');
  if ((s = render_accounts(&c, pid)) != PX_OK) goto out;
  if (opts && opts->with_timeline && (s = render_timeline(&c, pid)) != PX_OK) goto out;
  s = px_buf_putc(out, '}');
out:
  free(c.sources);
  return s;
}

px_status px_profile_events_before(px_txn *txn, const px_store *st, uint64_t pid, const px_timeline_pos *below,
                                   int inclusive, px_timeline_fn fn, void *arg) {
  px_key pos; /* timeline keys: profile id, sortable timestamp, seq */
  px_key_init(&pos);
  px_key_u64(&pos, below ? pid : pid + 1);
  if (below) {
    px_key_i64(&pos, below->time_ms);
    px_key_u64(&pos, below->seq);
  }
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_TIMELINE), px_store_dbi(st, PX_DB_TIMELINE), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k = {pos.n, pos.b}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  else if (rc == 0 && !(below && inclusive && k.mv_size == pos.n && memcmp(k.mv_data, pos.b, pos.n) == 0))
    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
    if (k.mv_size != 24 || px_get_u64(k.mv_data) != pid) break;
    if (fn(arg, px_get_i64((const char *)k.mv_data + 8), px_get_u64((const char *)k.mv_data + 16))) break;
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

/* Rows of pid at or after the cursor that are older than from_ms are
 * passed over with MDB_NEXT, up to this many, before a seek. */
#define SKIP_MAX 16

px_status px_profile_events_since(px_txn *txn, const px_store *st, uint64_t pid, int64_t from_ms,
                                  px_timeline_walk *w, px_timeline_row_fn fn, void *arg) {
  px_key pos;
  px_key_init(&pos);
  px_key_u64(&pos, pid);
  if (from_ms != INT64_MIN) px_key_i64(&pos, from_ms);
  MDB_cursor *cur = w ? w->cur : NULL;
  int rc = cur ? 0 : mdb_cursor_open(px_txn_mdb(txn, PX_DB_TIMELINE), px_store_dbi(st, PX_DB_TIMELINE), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k = {pos.n, pos.b}, v;
  int seek = 1;
  if (w && w->at_next && w->pid < pid) { /* every row of pid is at or after the cursor */
    if (w->at_next == 2) return PX_OK; /* past the end */
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    for (int i = 0; rc == 0 && i < SKIP_MAX && k.mv_size == 24 && px_get_u64(k.mv_data) == pid &&
                    px_get_i64((const char *)k.mv_data + 8) < from_ms;
         i++)
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    uint64_t at = rc == 0 && k.mv_size == 24 ? px_get_u64(k.mv_data) : 0;
    seek = at < pid || (at == pid && px_get_i64((const char *)k.mv_data + 8) < from_ms);
    if (at > pid) { /* pid has no rows from from_ms */
      w->pid = pid;
      return PX_OK;
    }
    if (seek) k.mv_size = pos.n, k.mv_data = pos.b;
  }
  if (w) w->cur = cur, w->at_next = 0;
  px_status s = PX_OK;
  for (rc = seek ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : 0; rc == 0 && s == PX_OK;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 24 || px_get_u64(k.mv_data) != pid) break;
    px_timeline_row row = {px_get_i64((const char *)k.mv_data + 8), px_get_u64((const char *)k.mv_data + 16),
                           v.mv_size ? (px_event_type) * (const uint8_t *)v.mv_data : PX_EV_TRACK, 0};
    if (v.mv_size >= 9) memcpy(&row.name_hash, (const char *)v.mv_data + 1, sizeof row.name_hash);
    s = fn(arg, &row);
  }
  if (w && s == PX_OK && (rc == 0 || rc == MDB_NOTFOUND)) w->pid = pid, w->at_next = rc == 0 ? 1 : 2;
  if (!w) mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  return s;
}

void px_timeline_walk_end(px_timeline_walk *w) {
  if (w->cur) mdb_cursor_close(w->cur);
  *w = (px_timeline_walk){0};
}
