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
#include "profile/profile.h"
#include "score/scores.h"
#include "segment/clv_refresh.h"
#include "segment/engine_int.h"
#include "store/key.h"

#define DAY_MS 86400000LL
#define NSCORES 5
#define SCORE_THREADS 2 /* the per-customer numbers are computed on this many threads */

/* The per-customer scores, in the order they are written. */
static const char *const score_names[NSCORES] = {"p_alive", "expected_purchases_90d", "expected_spend", "clv",
                                                 "clv_model"};

static double ms_since(uint64_t t0) { return (double)(px_time_mono_ns() - t0) / 1e6; }

/* ---- reading the purchases ---- */

/* The customers read: their profile ids (ascending) and summaries. */
typedef struct pid_list {
  uint64_t *v;
  px_btyd_customer *c;
  size_t n, cap;
} pid_list;

static px_status push(pid_list *l, uint64_t pid, const px_btyd_customer *c) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 1024;
    uint64_t *p = realloc(l->v, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    l->v = p;
    px_btyd_customer *q = realloc(l->c, nc * sizeof *q);
    if (!q) return PX_NOMEM;
    l->c = q;
    l->cap = nc;
  }
  l->v[l->n] = pid;
  l->c[l->n++] = *c;
  return PX_OK;
}

/* The state key of the purchase-days trait (as the engine keys it). */
static px_status trait_key(px_txn *txn, const px_store *st, uint64_t *key) {
  px_ctrait t;
  px_status s = px_ctrait_get(txn, st, PX_CLV_TRAIT, &t);
  if (s == PX_NOT_FOUND) return PX_INVALID; /* deleted by hand: applying the definition again brings it back */
  if (s != PX_OK) return s;
  s = t.agg.fn == PX_AGG_DAILY ? px_ctrait_state_key(&t, key) : PX_INVALID;
  px_ctrait_free(&t);
  return s;
}

/* Every live profile's purchase days (one state each) summarized up to
 * today (px_clv_customer_of, as the summary of a file does); the profiles
 * with a purchase go to customers, in id order. */
static px_status read_purchases(px_txn *txn, const px_store *st, int64_t now, double unit_days, pid_list *customers,
                                px_clv_summary_out *out, px_segment_progress_fn progress, void *arg) {
  uint64_t total = 0, key = 0;
  px_status s = px_store_counter(txn, st, "profiles", &total);
  if (s == PX_OK) s = trait_key(txn, st, &key);
  if (s != PX_OK) return s;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(st, PX_DB_PROFILES), &cur);
  if (rc) return px_store_status(rc);
  int64_t today = px_time_day(now);
  px_clv_purchase *days = NULL;
  size_t cap = 0;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s == PX_OK; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec rec;
    if (k.mv_size != 8 || v.mv_size < sizeof rec) continue;
    memcpy(&rec, v.mv_data, sizeof rec);
    if (rec.merged_into) continue;
    uint64_t pid = px_get_u64(k.mv_data), seen = ++out->profiles;
    if (progress && seen % 1000 == 0) progress(arg, seen, total > seen ? total : seen);
    MDB_val state;
    size_t n = 0, nd = 0;
    if ((s = eng_state_get(txn, st, pid, key, &state)) != PX_OK) break;
    if ((s = px_agg_daily_count(state.mv_data, state.mv_size, &n, NULL)) != PX_OK || !n) continue;
    if (n > cap) {
      px_clv_purchase *p = realloc(days, n * sizeof *p);
      if (!p) {
        s = PX_NOMEM;
        break;
      }
      days = p;
      cap = n;
    }
    for (size_t i = 0; i < n && s == PX_OK; i++) {
      px_agg_day d;
      if ((s = px_agg_daily_day(state.mv_data, state.mv_size, i, &d)) != PX_OK || d.day > today) break;
      days[nd++] = (px_clv_purchase){d.day, d.sum};
      out->purchases += d.events;
      out->no_amount += d.without;
    }
    px_btyd_customer c;
    if (s == PX_OK && px_clv_customer_of(days, nd, today, unit_days, &c)) s = push(customers, pid, &c);
  }
  free(days);
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s == PX_OK && progress) progress(arg, out->profiles, out->profiles);
  return s;
}

/* ---- models ---- */

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
  px_time_format_iso(px_time_day(now) * DAY_MS, end);
  end[10] = 0;
  px_agg_window_format(d->horizon_ms, horizon);
  px_buf_printf(b, "{\"version\":%u,\"fitted_at\":\"%s\",\"calibration_end\":\"%s\",\"unit\":\"%s\",\"event\":",
                version, at, end, d->unit_days == 1 ? "day" : "week");
  px_buf_json_str(b, d->event, strlen(d->event));
  px_buf_puts(b, ",\"revenue\":");
  px_buf_json_str(b, d->revenue, strlen(d->revenue));
  px_buf_printf(b, ",\"customers\":%llu,\"repeat_customers\":%llu,\"bgnbd\":{\"r\":", (unsigned long long)o->customers,
                (unsigned long long)o->repeat_customers);
  px_buf_num(b, f->m.r);
  px_buf_puts(b, ",\"alpha\":");
  px_buf_num(b, f->m.alpha);
  px_buf_puts(b, ",\"a\":");
  px_buf_num(b, f->m.a);
  px_buf_puts(b, ",\"b\":");
  px_buf_num(b, f->m.b);
  px_buf_puts(b, ",\"loglik\":");
  px_buf_num(b, f->m.loglik);
  px_buf_puts(b, "},\"gamma_gamma\":");
  if (f->have_gg) {
    px_buf_puts(b, "{\"p\":");
    px_buf_num(b, f->g.p);
    px_buf_puts(b, ",\"q\":");
    px_buf_num(b, f->g.q);
    px_buf_puts(b, ",\"gamma\":");
    px_buf_num(b, f->g.gamma);
    px_buf_puts(b, ",\"loglik\":");
    px_buf_num(b, f->g.loglik);
    px_buf_putc(b, '}');
  } else {
    px_buf_puts(b, "null");
  }
  px_buf_printf(b, ",\"horizon\":\"%s\",\"discount_rate\":", horizon);
  px_buf_num(b, d->discount);
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

/* Profiles holding CLV scores that were not scored now lose them. */
static px_status remove_stale(px_txn *txn, const px_store *st, const px_config *cfg, const pid_list *scored,
                              int reevaluate, int64_t now, px_clv_summary_out *o) {
  uint64_t *holders;
  size_t n;
  px_status s = px_score_holders(txn, st, is_clv_score, NULL, scored->v, scored->n, &holders, &n);
  for (size_t i = 0; i < n && s == PX_OK; i++) {
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
  px_buf_num(b, totals[0]);
  px_buf_puts(b, ",\"expected_purchases_90d\":");
  px_buf_num(b, totals[1]);
  return px_buf_printf(b, "},\"timings_ms\":{\"read\":%.1f,\"fit\":%.1f,\"score\":%.1f}}", o->read_ms, o->fit_ms,
                       o->score_ms);
}

/* ---- the refresh ---- */

/* What the read phase leaves for the write phase. */
struct px_clv_run {
  px_clv_def d;
  int64_t now;
  fitted f;
  pid_list customers; /* ascending, with their summaries */
  const px_btyd_customer *c; /* customers.c */
  size_t nc;
  double (*v)[4]; /* per customer: p_alive, expected_purchases_90d, expected_spend, clv */
};

void px_clv_run_free(px_clv_run *run) {
  if (!run) return;
  free(run->v);
  free(run->customers.v);
  free(run->customers.c);
  free(run);
}

px_status px_clv_prepare(px_txn *txn, const px_store *st, int64_t now_ms, px_segment_progress_fn progress, void *arg,
                         px_clv_run **runp, px_clv_summary_out *out) {
  *runp = NULL;
  memset(out, 0, sizeof *out);
  out->refreshed_ms = now_ms;
  px_clv_run *run = calloc(1, sizeof *run);
  if (!run) return PX_NOMEM;
  run->now = now_ms;
  px_status s = px_clv_def_get(txn, st, &run->d, NULL);
  if (s != PX_OK) {
    free(run);
    return s;
  }
  uint64_t t0 = px_time_mono_ns();
  s = read_purchases(txn, st, now_ms, run->d.unit_days, &run->customers, out, progress, arg);
  run->c = run->customers.c;
  run->nc = run->customers.n;
  out->customers = run->nc;
  for (size_t i = 0; s == PX_OK && i < run->nc; i++) out->repeat_customers += run->c[i].x > 0;
  out->read_ms = ms_since(t0);

  t0 = px_time_mono_ns();
  if (s == PX_OK) {
    px_status fs = run->nc ? px_bgnbd_fit(run->c, run->nc, &run->f.m) : PX_INVALID;
    if (fs == PX_OK) {
      out->fitted = 1;
      run->f.have_gg = px_gamma_gamma_fit(run->c, run->nc, &run->f.g) == PX_OK;
    } else if (fs == PX_INVALID || fs == PX_NOT_CONVERGED) {
      out->fit_status = fs; /* the data cannot support a fit (yet): the last model and scores stay */
    } else {
      s = fs;
    }
  }
  out->fit_ms = ms_since(t0);
  t0 = px_time_mono_ns();
  if (s == PX_OK && out->fitted) {
    if (!(run->v = malloc((run->nc ? run->nc : 1) * sizeof *run->v))) s = PX_NOMEM;
    if (s == PX_OK) s = score_all(&run->f, &run->d, run->c, run->nc, run->v);
  }
  out->score_ms = ms_since(t0);
  if (s == PX_OK) *runp = run;
  else px_clv_run_free(run);
  return s;
}

px_status px_clv_apply(px_txn *txn, const px_store *st, const px_config *cfg, const px_clv_run *run, int64_t now_ms,
                       px_clv_summary_out *out) {
  uint64_t t0 = px_time_mono_ns();
  double totals[2] = {NAN, NAN};
  int reads = 0;
  px_status s = PX_OK;
  if (out->fitted) {
    s = store_model(txn, st, &run->d, &run->f, run->now, out);
    if (s == PX_OK) s = px_segment_reads_score(txn, st, score_names, NSCORES, &reads);
    totals[0] = run->f.have_gg ? 0 : NAN;
    totals[1] = 0;
    for (size_t i = 0; i < run->nc && s == PX_OK; i++) {
      const double *v = run->v[i];
      int changed = 0;
      px_profile_rec rec;
      /* Merged away since the read: no scores (the survivor gets them next time). */
      if ((s = px_profile_get(txn, st, run->customers.v[i], &rec)) != PX_OK || rec.merged_into) {
        if (s == PX_NOT_FOUND) s = PX_OK;
        continue;
      }
      if (isfinite(v[3])) totals[0] += v[3];
      if (isfinite(v[1])) totals[1] += v[1];
      if ((s = put_scores(txn, st, run->customers.v[i], v, out->model, run->now, &changed)) != PX_OK) break;
      if (changed) {
        out->changed++;
        if (reads) s = px_segment_reevaluate(txn, st, cfg, run->customers.v[i], now_ms);
      }
    }
    if (s == PX_OK) s = remove_stale(txn, st, cfg, &run->customers, reads, now_ms, out);
  }
  out->score_ms += ms_since(t0);
  px_buf b;
  px_buf_init(&b, PX_SCORE_STR_MAX);
  if (s == PX_OK) s = summary_json(out, totals, &b);
  px_score sum = {PX_SCORE_STR, 0, b.data, b.len, run->now};
  if (s == PX_OK) s = px_score_put(txn, st, PX_SCORE_GLOBAL, PX_CLV_SUMMARY, &sum, NULL);
  px_buf_free(&b);
  return s;
}

px_status px_clv_refresh(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms,
                         px_segment_progress_fn progress, void *arg, px_clv_summary_out *out) {
  px_clv_run *run;
  px_status s = px_clv_prepare(txn, st, now_ms, progress, arg, &run, out);
  if (s == PX_OK) s = px_clv_apply(txn, st, cfg, run, now_ms, out);
  px_clv_run_free(run);
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
  else return s == PX_NOT_FOUND ? PX_STORE : s; /* listed a moment ago: not "not configured" */
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
