/* The RFM refresh: computed traits of every live profile -> quintiles ->
 * per-customer scores, removals, segment re-evaluation and the summary
 * (segment/rfm_refresh.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "compute/compute.h"
#include "profile/profile.h"
#include "score/scores.h"
#include "segment/engine_int.h"
#include "segment/rfm_refresh.h"
#include "store/key.h"

#define DAY_MS 86400000LL

static const char *const member_names[3] = {"recency", "frequency", "monetary"};

/* The per-customer scores, in the order they are written. */
static const char *const score_names[7] = {"rfm_r",           "rfm_f",         "rfm_m",       "rfm_cell",
                                           "rfm_recency_days", "rfm_frequency", "rfm_monetary"};

/* One input trait: its aggregation and the key its states are stored under. */
typedef struct input {
  px_ctrait t;
  int have;
  uint64_t key;
} input;

static px_status load_input(px_txn *txn, const px_store *st, int i, const char *name, input *in, px_error *err) {
  char field[32];
  snprintf(field, sizeof field, "rfm.%s", member_names[i]);
  px_def d;
  px_status s = px_def_get(txn, st, PX_DEF_CTRAIT, name, &d);
  if (s == PX_NOT_FOUND)
    return px_error_set(err, PX_INVALID, field, "no computed trait named \"%s\" (it was deleted?)", name);
  if (s != PX_OK) return s;
  cJSON *body = cJSON_Parse(d.body);
  s = body && px_ctrait_parse(body, &in->t, NULL) == PX_OK ? PX_OK : PX_STORE;
  cJSON_Delete(body);
  px_def_free(&d);
  if (s != PX_OK) return s;
  in->have = 1;
  return px_ctrait_state_key(&in->t, &in->key);
}

/* The input's value on pid at now (strings point into the store). */
static px_status value_of(px_txn *txn, const px_store *st, const input *in, uint64_t pid, int64_t now,
                          px_rule_value *out) {
  MDB_val v;
  px_status s = eng_state_get(txn, st, pid, in->key, &v);
  return s == PX_OK ? px_agg_value(&in->t.agg, v.mv_data, v.mv_size, now, out, NULL, NULL) : s;
}

/* A time from the recency trait's value; 0 when it has none. */
static int time_of(const px_rule_value *v, int64_t *t) {
  if (v->type == PX_RV_TIME) return *t = v->t, 1;
  if (v->type == PX_RV_NUM && isfinite(v->n) && fabs(v->n) < 9e15) return *t = (int64_t)v->n, 1;
  if (v->type == PX_RV_STR && v->len < 64) {
    char s[64];
    memcpy(s, v->s, v->len);
    s[v->len] = 0;
    return px_time_parse_iso(s, t) == PX_OK;
  }
  return 0;
}

static double number_of(const px_rule_value *v) { return v->type == PX_RV_NUM && isfinite(v->n) ? v->n : 0; }

/* Whole days from t to now, rounded down. */
static int64_t days_between(int64_t t, int64_t now) {
  int64_t d = now - t;
  return d >= 0 ? d / DAY_MS : -((-d + DAY_MS - 1) / DAY_MS);
}

typedef struct customers {
  uint64_t *pids;     /* ascending */
  px_rfm_input *in;
  size_t n, cap;
} customers;

static px_status add(customers *c, uint64_t pid, const px_rfm_input *x) {
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 1024;
    uint64_t *p = realloc(c->pids, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    c->pids = p;
    px_rfm_input *q = realloc(c->in, nc * sizeof *q);
    if (!q) return PX_NOMEM;
    c->in = q;
    c->cap = nc;
  }
  c->pids[c->n] = pid;
  c->in[c->n++] = *x;
  return PX_OK;
}

/* Reads the inputs of every live profile; the scored ones go to out. */
static px_status gather(px_txn *txn, const px_store *st, const input in[3], int64_t now, customers *out,
                        uint64_t *profiles, px_segment_progress_fn progress, void *arg) {
  uint64_t total = 0;
  px_status s = px_store_counter(txn, st, "profiles", &total);
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(st, PX_DB_PROFILES), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s == PX_OK; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec r;
    if (k.mv_size != 8 || v.mv_size < sizeof r) continue;
    memcpy(&r, v.mv_data, sizeof r);
    if (r.merged_into) continue;
    uint64_t pid = px_get_u64(k.mv_data);
    ++*profiles;
    if (progress && *profiles % 1000 == 0) progress(arg, *profiles, total > *profiles ? total : *profiles);
    px_rule_value rv, fv, mv;
    int64_t last;
    if ((s = value_of(txn, st, &in[0], pid, now, &rv)) != PX_OK) break;
    if (!time_of(&rv, &last)) continue;
    if ((s = value_of(txn, st, &in[1], pid, now, &fv)) != PX_OK || (s = value_of(txn, st, &in[2], pid, now, &mv)) != PX_OK)
      break;
    px_rfm_input x = {(double)days_between(last, now), number_of(&fv), number_of(&mv)};
    s = add(out, pid, &x);
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s == PX_OK && progress) progress(arg, *profiles, *profiles);
  return s;
}

static int cell_index(const char *cell) {
  for (int i = 0; i < PX_RFM_NCELLS; i++)
    if (strcmp(px_rfm_cell_at(i), cell) == 0) return i;
  return 0;
}

/* Writes one customer's scores; *changed when any differs. */
static px_status put_scores(px_txn *txn, const px_store *st, uint64_t pid, const px_rfm_input *x,
                            const px_rfm_score *sc, int64_t now, int *changed) {
  const double nums[7] = {sc->r, sc->f, sc->m, 0, x->recency_days, x->frequency, x->monetary};
  px_status s = PX_OK;
  *changed = 0;
  for (int i = 0; i < 7 && s == PX_OK; i++) {
    px_score v = {PX_SCORE_NUM, nums[i], NULL, 0, now};
    if (i == 3) v = (px_score){PX_SCORE_STR, 0, sc->cell, strlen(sc->cell), now};
    int ch = 0;
    s = px_score_put(txn, st, pid, score_names[i], &v, &ch);
    *changed |= ch;
  }
  return s;
}

static int is_rfm(void *arg, const char *name, size_t len) {
  (void)arg;
  return len > 4 && memcmp(name, "rfm_", 4) == 0;
}

/* Profiles holding rfm_* scores that are not in the scored set (each once,
 * ascending): *out malloc'd. */
static px_status find_stale(px_txn *txn, const px_store *st, const customers *c, uint64_t **out, size_t *n) {
  return px_score_holders(txn, st, is_rfm, NULL, c->pids, c->n, out, n);
}

typedef struct names {
  char n[16][PX_SCORE_NAME_MAX];
  int count;
} names;

static int collect_rfm(void *arg, const char *name, const px_score *v) {
  (void)v;
  names *ns = arg;
  if (strncmp(name, "rfm_", 4) == 0 && ns->count < 16) strcpy(ns->n[ns->count++], name);
  return 0;
}

/* Removes every rfm_* score of pid. */
static px_status remove_scores(px_txn *txn, const px_store *st, uint64_t pid) {
  px_status s;
  names ns;
  do {
    ns.count = 0;
    if ((s = px_score_each(txn, st, pid, collect_rfm, &ns)) != PX_OK) return s;
    for (int i = 0; i < ns.count && s == PX_OK; i++) s = px_score_del(txn, st, pid, ns.n[i]);
  } while (s == PX_OK && ns.count == 16);
  return s;
}

static void cuts_json(px_buf *b, const double c[4], int negate) {
  for (int k = 0; k < 4; k++) {
    px_buf_putc(b, k ? ',' : '[');
    px_buf_num(b, negate ? -c[k] : c[k]);
  }
  px_buf_putc(b, ']');
}

static void counts_json(px_buf *b, const uint64_t *c, int n) {
  for (int k = 0; k < n; k++) px_buf_printf(b, "%s%llu", k ? "," : "[", (unsigned long long)c[k]);
  px_buf_putc(b, ']');
}

static px_status summary_json(const px_rfm_summary *m, px_buf *b) {
  char at[32];
  px_time_format_iso(m->refreshed_ms, at);
  px_buf_printf(b, "{\"refreshed_at\":\"%s\",\"profiles\":%llu,\"population\":%llu,\"cuts\":", at,
                (unsigned long long)m->profiles, (unsigned long long)m->population);
  if (m->population) {
    px_buf_puts(b, "{\"recency_days\":");
    cuts_json(b, m->cuts.r, 1);
    px_buf_puts(b, ",\"frequency\":");
    cuts_json(b, m->cuts.f, 0);
    px_buf_puts(b, ",\"monetary\":");
    cuts_json(b, m->cuts.m, 0);
    px_buf_putc(b, '}');
  } else {
    px_buf_puts(b, "null");
  }
  px_buf_puts(b, ",\"scores\":{\"r\":");
  counts_json(b, m->r, 5);
  px_buf_puts(b, ",\"f\":");
  counts_json(b, m->f, 5);
  px_buf_puts(b, ",\"m\":");
  counts_json(b, m->m, 5);
  px_buf_puts(b, "},\"cells\":{");
  for (int i = 0; i < PX_RFM_NCELLS; i++)
    px_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", px_rfm_cell_at(i), (unsigned long long)m->cells[i]);
  return px_buf_printf(b, "},\"changed\":%llu,\"removed\":%llu}", (unsigned long long)m->changed,
                       (unsigned long long)m->removed);
}

px_status px_rfm_refresh(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms,
                         px_segment_progress_fn progress, void *arg, px_rfm_summary *out, px_error *err) {
  memset(out, 0, sizeof *out);
  out->refreshed_ms = now_ms;
  px_rfm_def d;
  px_status s = px_rfm_def_get(txn, st, &d, NULL);
  if (s != PX_OK) return s;
  input in[3];
  memset(in, 0, sizeof in);
  const char *trait[3] = {d.recency, d.frequency, d.monetary};
  for (int i = 0; i < 3 && s == PX_OK; i++) s = load_input(txn, st, i, trait[i], &in[i], err);
  customers c = {0};
  uint64_t *gone = NULL;
  size_t ngone = 0;
  px_buf b;
  px_buf_init(&b, 0);
  if (s == PX_OK) s = gather(txn, st, in, now_ms, &c, &out->profiles, progress, arg);
  out->population = c.n;
  if (s == PX_OK && c.n) s = px_rfm_cuts_of(c.in, c.n, &out->cuts);
  for (size_t i = 0; i < c.n && s == PX_OK; i++) {
    px_rfm_score sc = px_rfm_score_of(&out->cuts, &c.in[i]);
    out->r[sc.r - 1]++, out->f[sc.f - 1]++, out->m[sc.m - 1]++;
    out->cells[cell_index(sc.cell)]++;
    int changed = 0;
    if ((s = put_scores(txn, st, c.pids[i], &c.in[i], &sc, now_ms, &changed)) != PX_OK) break;
    if (changed) {
      out->changed++;
      s = px_segment_reevaluate(txn, st, cfg, c.pids[i], now_ms);
    }
  }
  /* Customers that no longer qualify, and profiles merged away since. */
  if (s == PX_OK) s = find_stale(txn, st, &c, &gone, &ngone);
  for (size_t i = 0; i < ngone && s == PX_OK; i++) {
    px_profile_rec r;
    if ((s = remove_scores(txn, st, gone[i])) != PX_OK) break;
    out->removed++;
    if ((s = px_profile_get(txn, st, gone[i], &r)) == PX_OK && !r.merged_into)
      s = px_segment_reevaluate(txn, st, cfg, gone[i], now_ms);
    else if (s == PX_NOT_FOUND || s == PX_OK)
      s = PX_OK;
  }
  if (s == PX_OK) s = summary_json(out, &b);
  px_score sum = {PX_SCORE_STR, 0, b.data, b.len, now_ms};
  if (s == PX_OK) s = px_score_put(txn, st, PX_SCORE_GLOBAL, PX_RFM_SUMMARY, &sum, NULL);
  px_buf_free(&b);
  free(c.pids);
  free(c.in);
  free(gone);
  for (int i = 0; i < 3; i++)
    if (in[i].have) px_ctrait_free(&in[i].t);
  return s;
}

px_status px_rfm_status(px_txn *txn, const px_store *st, px_buf *out) {
  px_rfm_def d;
  int64_t updated, due;
  px_status s = px_rfm_def_get(txn, st, &d, &updated);
  if (s != PX_OK) return s;
  if ((s = px_rfm_next_due(txn, st, &due)) != PX_OK) return s;
  px_score last;
  s = px_score_read(txn, st, PX_SCORE_GLOBAL, PX_RFM_SUMMARY, &last);
  if (s != PX_OK && s != PX_NOT_FOUND) return s;
  px_buf_puts(out, "{\"definition\":");
  px_rfm_def_print(&d, out);
  px_buf_puts(out, ",\"last_refresh\":");
  if (s == PX_OK) px_buf_append(out, last.s, last.len);
  else px_buf_puts(out, "null");
  px_buf_puts(out, ",\"next_refresh_at\":");
  if (due == INT64_MAX) return px_buf_puts(out, "null}");
  char at[32];
  px_time_format_iso(due == INT64_MIN ? updated : due, at); /* due at once: since the definition changed */
  return px_buf_printf(out, "\"%s\"}", at);
}
