/* The CLV refresh: every live profile's stored purchases -> the BTYD
 * summary -> BG/NBD and Gamma-Gamma fits -> a model version -> per-customer
 * scores, removals, segment re-evaluation and the summary
 * (segment/clv_refresh.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "clv/btyd.h"
#include "clv/summary.h"
#include "clv/value.h"
#include "compute/compute.h"
#include "event/event.h"
#include "profile/profile.h"
#include "score/scores.h"
#include "segment/clv_refresh.h"
#include "store/key.h"

#define DAY_MS 86400000LL
#define NSCORES 5
#define SCORE_THREADS 2 /* the per-customer numbers are computed on this many threads */

/* The per-customer scores, in the order they are written. */
static const char *const score_names[NSCORES] = {"p_alive", "expected_purchases_90d", "expected_spend", "clv",
                                                 "clv_model"};

static double ms_since(uint64_t t0) { return (double)(px_time_mono_ns() - t0) / 1e6; }

static int64_t day_of(int64_t ms) { return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS); }

/* ---- reading the purchases ---- */

typedef struct reader {
  px_txn *txn;
  const px_store *st;
  const px_clv_def *d;
  uint64_t name_hash;
  int64_t now;
  px_clv_summary *sum;
  char id[17]; /* the profile id in hex: the summary's customer id */
  int took;    /* the profile had a purchase */
  px_clv_summary_out *out;
} reader;

static px_status purchase_row(void *arg, const px_timeline_row *row) {
  reader *r = arg;
  if (row->type != PX_EV_TRACK || row->name_hash != r->name_hash || row->time_ms > r->now) return PX_OK;
  px_key ek;
  px_key_init(&ek);
  px_key_u64(&ek, row->seq);
  MDB_val rec;
  px_event ev;
  px_status s = px_store_get(r->txn, r->st, PX_DB_EVENTS, ek.b, ek.n, &rec);
  if (s == PX_OK) s = px_event_decode(rec.mv_data, rec.mv_size, row->seq, &ev);
  if (s != PX_OK) return s;
  if (ev.name && strcmp(ev.name, r->d->event) == 0) { /* not another name with the same hash */
    double amount;
    if (!px_agg_property_number(ev.properties, r->d->revenue, &amount)) {
      amount = 0;
      r->out->no_amount++;
    }
    s = px_clv_summary_add(r->sum, r->id, 16, day_of(row->time_ms), amount);
    r->out->purchases++;
    r->took = 1;
  }
  px_event_free(&ev);
  return s;
}

typedef struct pid_list {
  uint64_t *v; /* ascending */
  size_t n, cap;
} pid_list;

static px_status push(pid_list *l, uint64_t pid) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 1024;
    uint64_t *p = realloc(l->v, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    l->v = p;
    l->cap = nc;
  }
  l->v[l->n++] = pid;
  return PX_OK;
}

/* Every live profile's purchases up to now into sum; the profiles with one
 * go to customers, in id order (the summary's order too). */
static px_status read_purchases(reader *r, pid_list *customers, px_segment_progress_fn progress, void *arg) {
  uint64_t total = 0;
  px_status s = px_store_counter(r->txn, r->st, "profiles", &total);
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(r->txn, PX_DB_PROFILES), px_store_dbi(r->st, PX_DB_PROFILES), &cur);
  if (rc) return px_store_status(rc);
  px_timeline_walk walk = {0};
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s == PX_OK; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec rec;
    if (k.mv_size != 8 || v.mv_size < sizeof rec) continue;
    memcpy(&rec, v.mv_data, sizeof rec);
    if (rec.merged_into) continue;
    uint64_t pid = px_get_u64(k.mv_data);
    uint64_t seen = ++r->out->profiles;
    if (progress && seen % 1000 == 0) progress(arg, seen, total > seen ? total : seen);
    snprintf(r->id, sizeof r->id, "%016llx", (unsigned long long)pid);
    r->took = 0;
    s = px_profile_events_since(r->txn, r->st, pid, INT64_MIN, &walk, purchase_row, r);
    if (s == PX_OK && r->took) s = push(customers, pid);
  }
  px_timeline_walk_end(&walk);
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s == PX_OK && progress) progress(arg, r->out->profiles, r->out->profiles);
  return s;
}

/* ---- models ---- */

static void num(px_buf *b, double v) {
  char t[40];
  snprintf(t, sizeof t, "%.15g", v);
  if (strtod(t, NULL) != v) snprintf(t, sizeof t, "%.17g", v);
  px_buf_puts(b, isfinite(v) ? t : "null");
}

typedef struct versions {
  uint32_t last;  /* the newest model's version (0: none) */
  uint32_t old[PX_CLV_MODELS_KEPT + 1]; /* the oldest ones, ascending */
  size_t nold;
  size_t count;
} versions;

static int model_version(const char *name, uint32_t *v) {
  size_t n = strlen(PX_CLV_MODEL_PREFIX);
  if (strncmp(name, PX_CLV_MODEL_PREFIX, n) != 0 || strlen(name + n) != 10) return 0;
  char *end;
  unsigned long x = strtoul(name + n, &end, 10);
  return *end == 0 && x <= UINT32_MAX ? (*v = (uint32_t)x, 1) : 0;
}

static int collect_version(void *arg, const char *name, const px_score *sc) {
  (void)sc;
  versions *vs = arg;
  uint32_t v;
  if (!model_version(name, &v)) return 0;
  if (vs->nold < sizeof vs->old / sizeof *vs->old) vs->old[vs->nold++] = v; /* names come in version order */
  vs->count++;
  vs->last = v;
  return 0;
}

static void model_name(uint32_t v, char out[PX_SCORE_NAME_MAX]) {
  snprintf(out, PX_SCORE_NAME_MAX, "%s%010u", PX_CLV_MODEL_PREFIX, v);
}

typedef struct fitted {
  px_bgnbd m;
  px_gamma_gamma g;
  int have_gg;
} fitted;

static px_status model_json(const px_clv_def *d, const fitted *f, uint32_t version, int64_t now,
                            const px_clv_summary_out *o, px_buf *b) {
  char at[32], end[32], horizon[32];
  px_time_format_iso(now, at);
  px_time_format_iso(day_of(now) * DAY_MS, end);
  end[10] = 0;
  px_agg_window_format(d->horizon_ms, horizon);
  px_buf_printf(b, "{\"version\":%u,\"fitted_at\":\"%s\",\"calibration_end\":\"%s\",\"unit\":\"%s\",\"event\":",
                version, at, end, d->unit_days == 1 ? "day" : "week");
  px_buf_json_str(b, d->event, strlen(d->event));
  px_buf_puts(b, ",\"revenue\":");
  px_buf_json_str(b, d->revenue, strlen(d->revenue));
  px_buf_printf(b, ",\"customers\":%llu,\"repeat_customers\":%llu,\"bgnbd\":{\"r\":", (unsigned long long)o->customers,
                (unsigned long long)o->repeat_customers);
  num(b, f->m.r);
  px_buf_puts(b, ",\"alpha\":");
  num(b, f->m.alpha);
  px_buf_puts(b, ",\"a\":");
  num(b, f->m.a);
  px_buf_puts(b, ",\"b\":");
  num(b, f->m.b);
  px_buf_puts(b, ",\"loglik\":");
  num(b, f->m.loglik);
  px_buf_puts(b, "},\"gamma_gamma\":");
  if (f->have_gg) {
    px_buf_puts(b, "{\"p\":");
    num(b, f->g.p);
    px_buf_puts(b, ",\"q\":");
    num(b, f->g.q);
    px_buf_puts(b, ",\"gamma\":");
    num(b, f->g.gamma);
    px_buf_puts(b, ",\"loglik\":");
    num(b, f->g.loglik);
    px_buf_putc(b, '}');
  } else {
    px_buf_puts(b, "null");
  }
  px_buf_printf(b, ",\"horizon\":\"%s\",\"discount_rate\":", horizon);
  num(b, d->discount);
  return px_buf_putc(b, '}');
}

/* Stores the model as a new version and drops those past PX_CLV_MODELS_KEPT. */
static px_status store_model(px_txn *txn, const px_store *st, const px_clv_def *d, const fitted *f, int64_t now,
                             px_clv_summary_out *o) {
  versions vs = {0};
  px_status s = px_score_each(txn, st, PX_SCORE_GLOBAL, collect_version, &vs);
  if (s != PX_OK) return s;
  if (vs.last == UINT32_MAX) return PX_TOO_LARGE;
  o->model = vs.last + 1;
  px_buf b;
  px_buf_init(&b, PX_SCORE_STR_MAX);
  char name[PX_SCORE_NAME_MAX];
  model_name(o->model, name);
  s = model_json(d, f, o->model, now, o, &b);
  px_score v = {PX_SCORE_STR, 0, b.data, b.len, now};
  if (s == PX_OK) s = px_score_put(txn, st, PX_SCORE_GLOBAL, name, &v, NULL);
  px_buf_free(&b);
  for (size_t i = 0; s == PX_OK && vs.count + 1 > PX_CLV_MODELS_KEPT && i < vs.nold; i++, vs.count--) {
    model_name(vs.old[i], name);
    s = px_score_del(txn, st, PX_SCORE_GLOBAL, name);
  }
  return s;
}

/* ---- scoring ---- */

typedef struct scorer {
  const fitted *f;
  const px_clv_def *d;
  const px_btyd_customer *c;
  double (*out)[4]; /* per customer: p_alive, expected_purchases_90d, expected_spend, clv */
  size_t from, to;
} scorer;

static void *score_range(void *arg) {
  scorer *w = arg;
  const px_bgnbd *m = &w->f->m;
  double horizon_days = (double)(w->d->horizon_ms / DAY_MS), u = w->d->unit_days;
  for (size_t i = w->from; i < w->to; i++) {
    const px_btyd_customer *c = &w->c[i];
    double *o = w->out[i];
    o[0] = px_bgnbd_p_alive(m, c->x, c->t_x, c->T);
    o[1] = px_bgnbd_expected(m, c->x, c->t_x, c->T, 90 / u);
    o[2] = w->f->have_gg ? px_gamma_gamma_expected_spend(&w->f->g, c->x, c->m) : NAN;
    o[3] = w->f->have_gg ? px_clv_value(m, &w->f->g, c->x, c->t_x, c->T, c->m, horizon_days, u, w->d->discount) : NAN;
  }
  return NULL;
}

/* The four numbers of every customer, on SCORE_THREADS threads. */
static px_status score_all(const fitted *f, const px_clv_def *d, const px_btyd_customer *c, size_t n,
                           double (*out)[4]) {
  scorer w[SCORE_THREADS];
  pthread_t t[SCORE_THREADS];
  int started[SCORE_THREADS] = {0};
  for (int i = 0; i < SCORE_THREADS; i++) {
    w[i] = (scorer){f, d, c, out, n * (size_t)i / SCORE_THREADS, n * (size_t)(i + 1) / SCORE_THREADS};
    if (i > 0 && n >= 10000) started[i] = pthread_create(&t[i], NULL, score_range, &w[i]) == 0;
    if (i > 0 && !started[i]) score_range(&w[i]);
  }
  score_range(&w[0]);
  for (int i = 1; i < SCORE_THREADS; i++)
    if (started[i]) pthread_join(t[i], NULL);
  return PX_OK;
}

/* Writes one customer's scores (a number that is not finite removes the
 * score); *changed when any differs. */
static px_status put_scores(px_txn *txn, const px_store *st, uint64_t pid, const double v[4], uint32_t model,
                            int64_t now, int *changed) {
  px_status s = PX_OK;
  *changed = 0;
  for (int i = 0; i < NSCORES && s == PX_OK; i++) {
    double x = i < 4 ? v[i] : model;
    if (!isfinite(x)) {
      if ((s = px_score_del(txn, st, pid, score_names[i])) == PX_OK) *changed = 1;
      else if (s == PX_NOT_FOUND) s = PX_OK;
      continue;
    }
    px_score sc = {PX_SCORE_NUM, x, NULL, 0, now};
    int ch = 0;
    s = px_score_put(txn, st, pid, score_names[i], &sc, &ch);
    *changed |= ch;
  }
  return s;
}

static int is_clv_score(void *arg, const char *name, size_t len) {
  (void)arg;
  for (int i = 0; i < NSCORES; i++)
    if (strlen(score_names[i]) == len && memcmp(name, score_names[i], len) == 0) return 1;
  return 0;
}

static int has(const uint64_t *ids, size_t n, uint64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ids[mid] == id) return 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

/* Profiles holding CLV scores that were not scored now lose them. */
static px_status remove_stale(px_txn *txn, const px_store *st, const px_config *cfg, const pid_list *scored,
                              int reevaluate, int64_t now, px_clv_summary_out *o) {
  uint64_t *holders;
  size_t n;
  px_status s = px_score_holders(txn, st, is_clv_score, NULL, &holders, &n);
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    if (has(scored->v, scored->n, holders[i])) continue;
    for (int k = 0; k < NSCORES && s == PX_OK; k++)
      if ((s = px_score_del(txn, st, holders[i], score_names[k])) == PX_NOT_FOUND) s = PX_OK;
    o->removed++;
    px_profile_rec r;
    if (s == PX_OK && reevaluate && (s = px_profile_get(txn, st, holders[i], &r)) == PX_OK && !r.merged_into)
      s = px_segment_reevaluate(txn, st, cfg, holders[i], now);
    if (s == PX_NOT_FOUND) s = PX_OK;
  }
  free(holders);
  return s;
}

/* ---- the summary ---- */

const char *px_clv_unfitted_reason(px_status fit_status) {
  return fit_status == PX_NOT_CONVERGED ? "the BG/NBD fit did not converge (customers too alike to tell the models apart)"
                                        : "no customer with a repeat purchase yet";
}

/* totals: over the customers scored; NAN (null) when nothing was. */
static px_status summary_json(const px_clv_summary_out *o, const double totals[2], px_buf *b) {
  char at[32];
  px_time_format_iso(o->refreshed_ms, at);
  px_buf_printf(b, "{\"refreshed_at\":\"%s\",\"fitted\":%s,", at, o->fitted ? "true" : "false");
  if (o->fitted)
    px_buf_printf(b, "\"model\":%u,", o->model);
  else
    px_buf_printf(b, "\"model\":null,\"reason\":\"%s\",", px_clv_unfitted_reason(o->fit_status));
  px_buf_printf(b,
                "\"profiles\":%llu,\"customers\":%llu,\"repeat_customers\":%llu,\"purchases\":%llu,"
                "\"purchases_without_amount\":%llu,\"changed\":%llu,\"removed\":%llu,\"totals\":{\"clv\":",
                (unsigned long long)o->profiles, (unsigned long long)o->customers,
                (unsigned long long)o->repeat_customers, (unsigned long long)o->purchases,
                (unsigned long long)o->no_amount, (unsigned long long)o->changed, (unsigned long long)o->removed);
  num(b, totals[0]);
  px_buf_puts(b, ",\"expected_purchases_90d\":");
  num(b, totals[1]);
  return px_buf_printf(b, "},\"timings_ms\":{\"read\":%.1f,\"fit\":%.1f,\"score\":%.1f}}", o->read_ms, o->fit_ms,
                       o->score_ms);
}

/* ---- the refresh ---- */

px_status px_clv_refresh(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms,
                         px_segment_progress_fn progress, void *arg, px_clv_summary_out *out) {
  memset(out, 0, sizeof *out);
  out->refreshed_ms = now_ms;
  px_clv_def d;
  px_status s = px_clv_def_get(txn, st, &d, NULL);
  if (s != PX_OK) return s;
  uint64_t t0 = px_time_mono_ns();
  reader r = {.txn = txn, .st = st, .d = &d, .name_hash = px_profile_name_hash(d.event), .now = now_ms, .out = out};
  r.sum = px_clv_summary_new(day_of(now_ms), d.unit_days);
  pid_list customers = {0};
  const px_btyd_customer *c = NULL;
  const char *const *ids;
  size_t nc = 0;
  s = r.sum ? read_purchases(&r, &customers, progress, arg) : PX_NOMEM;
  if (s == PX_OK) s = px_clv_summary_build(r.sum, &c, &ids, &nc);
  if (s == PX_OK && nc != customers.n) s = PX_STORE; /* a customer per profile with a purchase */
  out->customers = nc;
  for (size_t i = 0; i < nc; i++) out->repeat_customers += c[i].x > 0;
  out->read_ms = ms_since(t0);

  t0 = px_time_mono_ns();
  fitted f = {0};
  if (s == PX_OK) {
    px_status fs = nc ? px_bgnbd_fit(c, nc, &f.m) : PX_INVALID;
    if (fs == PX_OK) {
      out->fitted = 1;
      f.have_gg = px_gamma_gamma_fit(c, nc, &f.g) == PX_OK;
    } else if (fs == PX_INVALID || fs == PX_NOT_CONVERGED) {
      out->fit_status = fs; /* the data cannot support a fit (yet): the last model and scores stay */
    } else {
      s = fs;
    }
  }
  out->fit_ms = ms_since(t0);

  t0 = px_time_mono_ns();
  double totals[2] = {NAN, NAN};
  double(*v)[4] = NULL;
  int reads = 0;
  if (s == PX_OK && out->fitted) {
    if (!(v = malloc((nc ? nc : 1) * sizeof *v))) s = PX_NOMEM;
    if (s == PX_OK) s = store_model(txn, st, &d, &f, now_ms, out);
    if (s == PX_OK) s = px_segment_reads_score(txn, st, score_names, NSCORES, &reads);
    if (s == PX_OK) s = score_all(&f, &d, c, nc, v);
    totals[0] = f.have_gg ? 0 : NAN;
    totals[1] = 0;
    for (size_t i = 0; i < nc && s == PX_OK; i++) {
      int changed = 0;
      if (isfinite(v[i][3])) totals[0] += v[i][3];
      if (isfinite(v[i][1])) totals[1] += v[i][1];
      if ((s = put_scores(txn, st, customers.v[i], v[i], out->model, now_ms, &changed)) != PX_OK) break;
      if (changed) {
        out->changed++;
        if (reads) s = px_segment_reevaluate(txn, st, cfg, customers.v[i], now_ms);
      }
    }
    if (s == PX_OK) s = remove_stale(txn, st, cfg, &customers, reads, now_ms, out);
  }
  out->score_ms = ms_since(t0);
  px_buf b;
  px_buf_init(&b, PX_SCORE_STR_MAX);
  if (s == PX_OK) s = summary_json(out, totals, &b);
  px_score sum = {PX_SCORE_STR, 0, b.data, b.len, now_ms};
  if (s == PX_OK) s = px_score_put(txn, st, PX_SCORE_GLOBAL, PX_CLV_SUMMARY, &sum, NULL);
  px_buf_free(&b);
  free(v);
  free(customers.v);
  px_clv_summary_free(r.sum);
  return s;
}

/* ---- reading it ---- */

typedef struct model_list {
  char (*names)[PX_SCORE_NAME_MAX]; /* the stored models' names, oldest first */
  size_t count, cap;
  int nomem;
} model_list;

static int collect_names(void *arg, const char *name, const px_score *sc) {
  (void)sc;
  model_list *l = arg;
  uint32_t v;
  if (!model_version(name, &v)) return 0;
  if (l->count == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    void *p = realloc(l->names, nc * sizeof *l->names);
    if (!p) return l->nomem = 1;
    l->names = p;
    l->cap = nc;
  }
  strcpy(l->names[l->count++], name);
  return 0;
}

px_status px_clv_models(px_txn *txn, const px_store *st, px_buf *out) {
  model_list l = {0};
  px_clv_def d;
  px_status s = px_clv_def_get(txn, st, &d, NULL);
  if (s != PX_OK) return s;
  s = px_score_each(txn, st, PX_SCORE_GLOBAL, collect_names, &l);
  if (s == PX_OK && l.nomem) s = PX_NOMEM;
  px_buf_puts(out, "{\"models\":[");
  for (size_t i = l.count; i-- > 0 && s == PX_OK;) {
    px_score m;
    if ((s = px_score_read(txn, st, PX_SCORE_GLOBAL, l.names[i], &m)) != PX_OK) break;
    if (i + 1 < l.count) px_buf_putc(out, ',');
    px_buf_append(out, m.s, m.len);
  }
  free(l.names);
  return s == PX_OK ? px_buf_puts(out, "]}") : s;
}

px_status px_clv_status(px_txn *txn, const px_store *st, px_buf *out) {
  px_clv_def d;
  int64_t updated, due;
  px_status s = px_clv_def_get(txn, st, &d, &updated);
  if (s != PX_OK) return s;
  if ((s = px_clv_next_due(txn, st, &due)) != PX_OK) return s;
  px_buf_puts(out, "{\"definition\":");
  px_clv_def_print(&d, out);
  px_buf_puts(out, ",\"model\":");
  versions vs = {0};
  if ((s = px_score_each(txn, st, PX_SCORE_GLOBAL, collect_version, &vs)) != PX_OK) return s;
  px_score sc;
  char name[PX_SCORE_NAME_MAX];
  model_name(vs.last, name);
  if (vs.last && (s = px_score_read(txn, st, PX_SCORE_GLOBAL, name, &sc)) == PX_OK) px_buf_append(out, sc.s, sc.len);
  else if (!vs.last) px_buf_puts(out, "null");
  else return s;
  px_buf_puts(out, ",\"last_refresh\":");
  s = px_score_read(txn, st, PX_SCORE_GLOBAL, PX_CLV_SUMMARY, &sc);
  if (s == PX_OK) px_buf_append(out, sc.s, sc.len);
  else if (s == PX_NOT_FOUND) px_buf_puts(out, "null");
  else return s;
  px_buf_puts(out, ",\"next_refresh_at\":");
  if (due == INT64_MAX) return px_buf_puts(out, "null}");
  char at[32];
  px_time_format_iso(due == INT64_MIN ? updated : due, at);
  return px_buf_printf(out, "\"%s\"}", at);
}
