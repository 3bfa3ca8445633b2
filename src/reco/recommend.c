/* Queries on a trained model: see recommend.h.
 *
 * Scratch per query object, indexed by item: one slot each (the score,
 * the stamps saying it is a candidate or owned in this query's epoch, so
 * nothing is cleared between queries, and the top reasons), so that one
 * contribution touches one cache line; and the candidate list.
 * A query touches only the neighbours of the customer's items. Candidates
 * are ranked by a binary max-heap built over them in linear time and
 * popped only until n results are taken, so a long tail costs nothing. */
#include "reco/recommend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R PX_RECO_REASONS
#define DAY_MS 86400000.0

typedef struct cat_count {
  uint32_t cat, count;
} cat_count;

/* One item's scratch (48 bytes). */
typedef struct slot {
  double acc;                          /* the score so far */
  uint32_t seen, owned;                /* == epoch: a candidate / not to recommend, this query */
  uint32_t reason[R];                  /* the top reasons, largest first */
  float reason_score[R];
  uint8_t n_reasons;
} slot;

struct px_reco_query {
  const px_reco_model *m;
  uint32_t n;
  uint32_t epoch;
  slot *s; /* n */
  uint32_t *cand;
  int64_t *times; /* the customer's items' times, for max_items */
  size_t times_cap;
  /* Per query, sized to the results wanted. */
  px_reco_rec *held;
  cat_count *cats;
  size_t cap;
};

void px_reco_query_free(px_reco_query *q) {
  if (!q) return;
  free(q->s);
  free(q->cand);
  free(q->times);
  free(q->held);
  free(q->cats);
  free(q);
}

px_status px_reco_query_new(const px_reco_model *m, px_reco_query **out) {
  px_reco_query *q = calloc(1, sizeof *q);
  if (!q) return PX_NOMEM;
  size_t n = px_reco_model_items(m), k = n ? n : 1;
  q->m = m;
  q->n = (uint32_t)n;
  q->s = calloc(k, sizeof *q->s);
  q->cand = malloc(k * sizeof *q->cand);
  if (!q->s || !q->cand) {
    px_reco_query_free(q);
    return PX_NOMEM;
  }
  *out = q;
  return PX_OK;
}

/* A new epoch: every stamp of the last query becomes stale. */
static void next_epoch(px_reco_query *q) {
  if (++q->epoch == 0) {
    for (uint32_t i = 0; i < q->n; i++) q->s[i].seen = q->s[i].owned = 0;
    q->epoch = 1;
  }
}

/* Sizes the per-query arrays and checks the request. */
static px_status start(px_reco_query *q, const px_reco_request *r) {
  if (r->n > PX_RECO_MAX_RESULTS || (r->n_items && !r->items) || (r->n_popular && !r->popular))
    return PX_INVALID;
  if (r->n > q->cap) {
    px_reco_rec *held = realloc(q->held, r->n * sizeof *held);
    if (held) q->held = held;
    cat_count *cats = realloc(q->cats, r->n * sizeof *cats);
    if (cats) q->cats = cats;
    if (!held || !cats) return PX_NOMEM;
    q->cap = r->n;
  }
  next_epoch(q);
  /* The customer's items, unless the repurchase window lets them back. */
  for (size_t k = 0; k < r->n_items; k++) {
    const px_reco_item *it = &r->items[k];
    if (it->item >= q->n || (r->owned && !r->owned[k])) continue;
    int back = r->repurchase_ms > 0 && it->last_ms != PX_RECO_NO_TIME && r->now_ms != PX_RECO_NO_TIME &&
               it->last_ms < r->now_ms && r->now_ms - it->last_ms > r->repurchase_ms;
    if (!back) q->s[it->item].owned = q->epoch;
  }
  return PX_OK;
}

/* Collects results in order, applying the exclusions and the category cap. */
typedef struct picker {
  px_reco_query *q;
  const px_reco_request *r;
  px_reco_rec *out;
  size_t got, held, ncats;
} picker;

static int excluded(const px_reco_query *q, const px_reco_request *r, uint32_t item) {
  if (q->s[item].owned == q->epoch) return 1;
  if (r->exclude_bits && (r->exclude_bits[item >> 6] >> (item & 63) & 1)) return 1;
  return r->exclude && r->exclude(r->exclude_arg, item);
}

/* 1 when the picker is full. */
static int offer(picker *p, const px_reco_rec *rec) {
  const px_reco_request *r = p->r;
  if (p->got >= r->n) return 1;
  if (excluded(p->q, r, rec->item)) return 0;
  if (r->category && r->max_per_category) {
    uint32_t cat = r->category[rec->item];
    size_t c = 0;
    while (c < p->ncats && p->q->cats[c].cat != cat) c++;
    if (c == p->ncats) p->q->cats[p->ncats++] = (cat_count){cat, 0};
    if (p->q->cats[c].count >= r->max_per_category) {
      if (p->held < r->n) p->q->held[p->held++] = *rec; /* only the first n can ever be needed */
      return 0;
    }
    p->q->cats[c].count++;
  }
  p->out[p->got++] = *rec;
  return p->got >= r->n;
}

/* The items the category cap held back, in the order they came. */
static size_t finish(picker *p) {
  for (size_t k = 0; k < p->held && p->got < p->r->n; k++) p->out[p->got++] = p->q->held[k];
  return p->got;
}

/* The fallback list, skipping what was already a candidate. */
static void fallback(picker *p) {
  px_reco_query *q = p->q;
  const px_reco_request *r = p->r;
  size_t n;
  const uint32_t *list = r->popular ? r->popular : px_reco_model_popular(q->m, &n);
  if (r->popular) n = r->n_popular;
  for (size_t k = 0; k < n && p->got < r->n; k++) {
    uint32_t j = list[k];
    if (j >= q->n || q->s[j].seen == q->epoch) continue;
    q->s[j].seen = q->epoch;
    float score = r->popular && r->popular_score ? r->popular_score[k] : (float)px_reco_model_popularity(q->m, j);
    px_reco_rec rec = {.item = j, .score = score, .popular = 1};
    if (offer(p, &rec)) break;
  }
}

/* Adds c from the customer's item `from` to a candidate's reasons (kept
 * largest first, ties by lower item). The customer's items are distinct,
 * so `from` is not among them yet. */
static void add_reason(slot *sl, uint32_t from, float c) {
  int n = sl->n_reasons, at;
  if (n < R) {
    at = n;
    sl->n_reasons = (uint8_t)(n + 1);
  } else if (c > sl->reason_score[R - 1] || (c == sl->reason_score[R - 1] && from < sl->reason[R - 1])) {
    at = R - 1;
  } else {
    return;
  }
  while (at > 0 && (c > sl->reason_score[at - 1] || (c == sl->reason_score[at - 1] && from < sl->reason[at - 1]))) {
    sl->reason[at] = sl->reason[at - 1];
    sl->reason_score[at] = sl->reason_score[at - 1];
    at--;
  }
  sl->reason[at] = from;
  sl->reason_score[at] = c;
}

/* The k-th largest of t[0..n) (1 <= k <= n), reordering t: quickselect
 * with a three-way partition (many items share an order's time). */
static int64_t kth_largest(int64_t *t, size_t n, size_t k) {
  size_t lo = 0, hi = n, want = k - 1; /* the answer is in t[lo..hi) */
  for (;;) {
    int64_t a = t[lo], b = t[lo + (hi - lo) / 2], c = t[hi - 1];
    int64_t pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b); /* median of three */
    /* t[lo..gt) > pivot, t[gt..i) == pivot, t[lt..hi) < pivot */
    size_t gt = lo, i = lo, lt = hi;
    while (i < lt) {
      int64_t x = t[i];
      if (x > pivot) {
        t[i++] = t[gt];
        t[gt++] = x;
      } else if (x < pivot) {
        t[i] = t[--lt];
        t[lt] = x;
      } else {
        i++;
      }
    }
    if (want < gt) hi = gt;
    else if (want < lt) return pivot;
    else lo = lt;
  }
}

/* The time from which the customer's items count (all: INT64_MIN) and how
 * many of those at exactly that time may still count. */
static px_status recent_cut(px_reco_query *q, const px_reco_request *r, int64_t *cut, size_t *at_cut) {
  *cut = INT64_MIN;
  *at_cut = SIZE_MAX;
  if (!r->max_items || r->n_items <= r->max_items) return PX_OK;
  if (r->n_items > q->times_cap) {
    int64_t *t = realloc(q->times, r->n_items * sizeof *t);
    if (!t) return PX_NOMEM;
    q->times = t;
    q->times_cap = r->n_items;
  }
  for (size_t k = 0; k < r->n_items; k++) q->times[k] = r->items[k].last_ms;
  *cut = kth_largest(q->times, r->n_items, r->max_items);
  size_t above = 0;
  for (size_t k = 0; k < r->n_items; k++) above += r->items[k].last_ms > *cut;
  *at_cut = r->max_items - above;
  return PX_OK;
}

/* Candidate a ranks above b: a higher (float) score, or the same and a lower index. */
static int above(const px_reco_query *q, uint32_t a, uint32_t b) {
  float x = (float)q->s[a].acc, y = (float)q->s[b].acc;
  return x > y || (x == y && a < b);
}

static void sift(const px_reco_query *q, uint32_t *h, size_t n, size_t at) {
  for (;;) {
    size_t l = 2 * at + 1, r = l + 1, m = at;
    if (l < n && above(q, h[l], h[m])) m = l;
    if (r < n && above(q, h[r], h[m])) m = r;
    if (m == at) return;
    uint32_t t = h[at];
    h[at] = h[m];
    h[m] = t;
    at = m;
  }
}

static px_reco_rec candidate(const px_reco_query *q, uint32_t j) {
  const slot *sl = &q->s[j];
  px_reco_rec rec = {.item = j, .score = (float)sl->acc, .n_reasons = sl->n_reasons};
  memcpy(rec.reason, sl->reason, rec.n_reasons * sizeof *rec.reason);
  memcpy(rec.reason_score, sl->reason_score, rec.n_reasons * sizeof *rec.reason_score);
  return rec;
}

px_status px_reco_recommend(px_reco_query *q, const px_reco_request *r, px_reco_rec *out, size_t *got) {
  *got = 0;
  px_status st = start(q, r);
  if (st != PX_OK) return st;
  /* Score the neighbours of the customer's (most recent) items. */
  int64_t cut;
  size_t at_cut, nc = 0;
  if ((st = recent_cut(q, r, &cut, &at_cut)) != PX_OK) return st;
  for (size_t k = 0; k < r->n_items; k++) {
    const px_reco_item *it = &r->items[k];
    if (it->last_ms < cut) continue;
    if (it->last_ms == cut) {
      if (!at_cut) continue;
      at_cut--;
    }
    if (it->item >= q->n) continue;
    double w = it->weight;
    if (r->half_life_days > 0 && it->last_ms != PX_RECO_NO_TIME && r->now_ms != PX_RECO_NO_TIME &&
        it->last_ms < r->now_ms)
      w *= exp2(-(double)(r->now_ms - it->last_ms) / DAY_MS / r->half_life_days);
    if (!(w > 0) || !isfinite(w)) continue;
    const px_reco_neighbour *nb;
    size_t nn;
    px_reco_model_neighbours(q->m, it->item, &nb, &nn);
    for (size_t e = 0; e < nn; e++) {
      slot *sl = &q->s[nb[e].item];
      if (sl->owned == q->epoch) continue;
      double c = w * nb[e].vote;
      if (sl->seen != q->epoch) {
        sl->seen = q->epoch;
        sl->acc = 0;
        sl->n_reasons = 0;
        q->cand[nc++] = nb[e].item;
      }
      sl->acc += c;
      add_reason(sl, it->item, (float)c);
    }
  }
  /* Take them best first, then the fallback. */
  picker p = {q, r, out, 0, 0, 0};
  for (size_t k = nc / 2; k-- > 0;) sift(q, q->cand, nc, k);
  for (size_t left = nc; left > 0 && p.got < r->n; left--) {
    uint32_t j = q->cand[0];
    q->cand[0] = q->cand[left - 1];
    sift(q, q->cand, left - 1, 0);
    px_reco_rec rec = candidate(q, j);
    if (offer(&p, &rec)) break;
  }
  if (!r->no_fallback) fallback(&p);
  *got = finish(&p);
  return PX_OK;
}

px_status px_reco_popular(px_reco_query *q, const px_reco_request *r, px_reco_rec *out, size_t *got) {
  *got = 0;
  px_status st = start(q, r);
  if (st != PX_OK) return st;
  picker p = {q, r, out, 0, 0, 0};
  fallback(&p);
  *got = finish(&p);
  return PX_OK;
}

px_status px_reco_similar(px_reco_query *q, uint32_t item, const px_reco_request *r, px_reco_rec *out,
                          size_t *got) {
  *got = 0;
  const px_reco_neighbour *nb;
  size_t nn;
  px_status st = px_reco_model_neighbours(q->m, item, &nb, &nn);
  if (st != PX_OK) return st;
  if ((st = start(q, r)) != PX_OK) return st;
  picker p = {q, r, out, 0, 0, 0};
  for (size_t e = 0; e < nn; e++) {
    px_reco_rec rec = {.item = nb[e].item, .score = nb[e].score, .n_reasons = 1, .reason = {item},
                       .reason_score = {nb[e].score}};
    if (offer(&p, &rec)) break;
  }
  *got = finish(&p);
  return PX_OK;
}
