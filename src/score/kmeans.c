#include "score/kmeans.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- A small deterministic PRNG (splitmix64): one stream per use, so a
 * restart's result does not depend on what ran before it. */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static rng rng_stream(uint64_t seed, uint64_t a, uint64_t b) {
  rng r = {seed};
  r.s = rng_next(&r) ^ (a * 0xd1b54a32d192ed03ULL);
  r.s = rng_next(&r) ^ (b * 0xaef17502108ef2d9ULL);
  return r;
}

static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; } /* [0, 1) */

static size_t rng_index(rng *r, size_t n) {
  size_t i = (size_t)(rng_uniform(r) * (double)n);
  return i < n ? i : n - 1;
}

/* Streams: restart r at k is (k, r); the samples are (STREAM_SAMPLE, 0)
 * for the silhouette of the result, 1 for the silhouette while choosing k,
 * 2 for the fit sample. */
#define STREAM_SAMPLE 0xffffu

static double dist2(const double *a, const double *b, int d) {
  double s = 0;
  for (int f = 0; f < d; f++) {
    double t = a[f] - b[f];
    s += t * t;
  }
  return s;
}

/* ---- Lloyd iterations, with Hamerly's bounds: per point an upper bound
 * on the distance to its own centroid and a lower bound on the distance to
 * any other. When centroids move, the bounds move by as much; a point whose
 * upper bound stays below both its lower bound and half the distance from
 * its centroid to the nearest other one cannot change cluster, and costs no
 * distance at all. The assignments are those of plain Lloyd (but for exact
 * ties); late rounds, where few points move, cost O(n) instead of O(n k d). */

/* The nearest centroid and the two smallest distances (not squared). */
static uint32_t scan(const double *p, const double *centers, int k, int d, double *d1, double *d2) {
  uint32_t best = 0;
  double b1 = INFINITY, b2 = INFINITY;
  for (int j = 0; j < k; j++) {
    double t = dist2(p, centers + (size_t)j * d, d);
    if (t < b1) {
      b2 = b1, b1 = t, best = (uint32_t)j;
    } else if (t < b2) {
      b2 = t;
    }
  }
  *d1 = sqrt(b1);
  *d2 = sqrt(b2);
  return best;
}

static size_t nearest(const double *p, const double *centers, int k, int d) {
  double d1, d2;
  return scan(p, centers, k, d, &d1, &d2);
}

typedef struct lloyd_state {
  const double *z;
  size_t n;
  int d, k;
  double *centers, *upper, *lower;
  uint32_t *labels;
  double sum[PX_KMEANS_MAX_K * PX_KMEANS_MAX_FEATURES];
  size_t size[PX_KMEANS_MAX_K];
} lloyd_state;

static void move_point(lloyd_state *s, size_t i, uint32_t to) {
  const double *p = s->z + i * (size_t)s->d;
  uint32_t from = s->labels[i];
  if (from != UINT32_MAX) {
    s->size[from]--;
    for (int f = 0; f < s->d; f++) s->sum[(size_t)from * s->d + f] -= p[f];
  }
  s->size[to]++;
  for (int f = 0; f < s->d; f++) s->sum[(size_t)to * s->d + f] += p[f];
  s->labels[i] = to;
}

/* Every point against every centroid; returns how many changed cluster. */
static size_t assign_full(lloyd_state *s) {
  size_t changed = 0;
  for (size_t i = 0; i < s->n; i++) {
    uint32_t j = scan(s->z + i * (size_t)s->d, s->centers, s->k, s->d, &s->upper[i], &s->lower[i]);
    if (j != s->labels[i]) move_point(s, i, j), changed++;
  }
  return changed;
}

/* Moves the bounds by how far the centroids went (moved[j]; the farthest
 * moved most_j, by most, the next by second), then reassigns only the
 * points whose bounds allow a change. half[j]: half the distance from
 * centroid j to the nearest other. */
static size_t assign_bounded(lloyd_state *s, const double *moved, int most_j, double most, double second,
                             const double *half) {
  size_t changed = 0;
  for (size_t i = 0; i < s->n; i++) {
    uint32_t a = s->labels[i];
    double up = s->upper[i] + moved[a], low = s->lower[i] - ((int)a == most_j ? second : most);
    double limit = half[a] > low ? half[a] : low;
    s->upper[i] = up;
    s->lower[i] = low;
    if (up <= limit) continue;
    const double *p = s->z + i * (size_t)s->d;
    s->upper[i] = sqrt(dist2(p, s->centers + (size_t)a * s->d, s->d));
    if (s->upper[i] <= limit) continue;
    uint32_t j = scan(p, s->centers, s->k, s->d, &s->upper[i], &s->lower[i]);
    if (j != a) move_point(s, i, j), changed++;
  }
  return changed;
}

/* Fills each empty cluster with the point farthest from its own centroid
 * (among clusters of two or more). Returns -1 when there is none: every
 * point sits on a centroid, so fewer than k distinct points; else how many
 * clusters were filled. */
static int fill_empty(lloyd_state *s) {
  int filled = 0;
  double *far_d = s->upper; /* exact distances: the bounds are rebuilt after */
  for (int j = 0; j < s->k; j++) {
    if (s->size[j]) continue;
    if (!filled)
      for (size_t i = 0; i < s->n; i++)
        far_d[i] = dist2(s->z + i * (size_t)s->d, s->centers + (size_t)s->labels[i] * s->d, s->d);
    size_t far = SIZE_MAX;
    double fd = 0;
    for (size_t i = 0; i < s->n; i++)
      if (far_d[i] > fd && s->size[s->labels[i]] > 1) fd = far_d[i], far = i;
    if (far == SIZE_MAX) return -1;
    move_point(s, far, (uint32_t)j);
    far_d[far] = 0;
    filled++;
  }
  return filled;
}

static void exact_sums(lloyd_state *s) {
  memset(s->sum, 0, sizeof s->sum);
  memset(s->size, 0, sizeof s->size);
  for (size_t i = 0; i < s->n; i++) {
    double *t = s->sum + (size_t)s->labels[i] * s->d;
    const double *p = s->z + i * (size_t)s->d;
    for (int f = 0; f < s->d; f++) t[f] += p[f];
    s->size[s->labels[i]]++;
  }
}

/* Centroids from the sums; moved[j] gets how far centroid j went. */
static void update_centers(lloyd_state *s, double *moved) {
  for (int j = 0; j < s->k; j++) {
    double *c = s->centers + (size_t)j * s->d, shift = 0;
    for (int f = 0; f < s->d; f++) {
      double v = s->sum[(size_t)j * s->d + f] / (double)s->size[j], t = v - c[f];
      shift += t * t;
      c[f] = v;
    }
    moved[j] = sqrt(shift);
  }
}

px_status px_kmeans_lloyd(const double *z, size_t n, int d, int k, double *centers, uint32_t *labels, int max_iter,
                          double tol, double *inertia, int *iterations) {
  if (k < 1 || k > PX_KMEANS_MAX_K || d < 1 || d > PX_KMEANS_MAX_FEATURES || n < (size_t)k || max_iter < 1)
    return PX_INVALID;
  lloyd_state *s = calloc(1, sizeof *s);
  double *upper = malloc(n * sizeof *upper), *lower = malloc(n * sizeof *lower);
  px_status st = PX_NOMEM;
  int it = 0;
  if (!s || !upper || !lower) goto out;
  *s = (lloyd_state){.z = z, .n = n, .d = d, .k = k, .centers = centers, .upper = upper, .lower = lower,
                     .labels = labels};
  for (size_t i = 0; i < n; i++) labels[i] = UINT32_MAX; /* the first round changes every label */
  int full = 1, most_j = 0;
  double moved[PX_KMEANS_MAX_K], half[PX_KMEANS_MAX_K], most = 0, second = 0;
  st = PX_OK;
  while (it < max_iter) {
    size_t changed = full ? assign_full(s) : assign_bounded(s, moved, most_j, most, second, half);
    it++;
    if (!changed) break; /* the centroids are already the means of these clusters */
    int filled = fill_empty(s);
    if (filled < 0) {
      st = PX_INVALID;
      goto out;
    }
    if (!filled && (double)changed <= tol * (double)n) break;
    full = filled > 0;
    update_centers(s, moved);
    if (full) continue;
    most = second = 0, most_j = 0;
    for (int j = 0; j < k; j++) {
      if (moved[j] > most) {
        second = most, most = moved[j], most_j = j;
      } else if (moved[j] > second) {
        second = moved[j];
      }
      half[j] = INFINITY;
      for (int o = 0; o < k; o++)
        if (o != j) half[j] = fmin(half[j], 0.5 * sqrt(dist2(centers + (size_t)j * d, centers + (size_t)o * d, d)));
    }
  }
  /* The centroids as exact means of the final clusters (no drift from the
   * running sums), and the inertia against them. */
  exact_sums(s);
  update_centers(s, moved);
  if (inertia) {
    double total = 0;
    for (size_t i = 0; i < n; i++) total += dist2(z + i * (size_t)d, centers + (size_t)labels[i] * d, d);
    *inertia = total;
  }
  if (iterations) *iterations = it;
out:
  free(s);
  free(upper);
  free(lower);
  return st;
}

/* k-means++: the first centre uniformly, each next one with chance
 * proportional to the squared distance to the nearest centre so far.
 * d2: n scratch. PX_INVALID when fewer than k distinct points. */
static px_status seed_pp(const double *z, size_t n, int d, int k, rng *r, double *centers, double *d2) {
  size_t first = rng_index(r, n);
  memcpy(centers, z + first * (size_t)d, (size_t)d * sizeof *centers);
  for (size_t i = 0; i < n; i++) d2[i] = dist2(z + i * (size_t)d, centers, d);
  for (int j = 1; j < k; j++) {
    double total = 0;
    for (size_t i = 0; i < n; i++) total += d2[i];
    if (!(total > 0)) return PX_INVALID;
    double target = rng_uniform(r) * total, cum = 0;
    size_t pick = SIZE_MAX, last = 0;
    for (size_t i = 0; i < n; i++) {
      if (d2[i] <= 0) continue;
      last = i;
      cum += d2[i];
      if (cum > target) {
        pick = i;
        break;
      }
    }
    if (pick == SIZE_MAX) pick = last; /* rounding ran past the end */
    double *c = centers + (size_t)j * d;
    memcpy(c, z + pick * (size_t)d, (size_t)d * sizeof *c);
    for (size_t i = 0; i < n; i++) {
      double t = dist2(z + i * (size_t)d, c, d);
      if (t < d2[i]) d2[i] = t;
    }
  }
  return PX_OK;
}

/* The best of n_init restarts at k: lowest inertia, first one on ties. */
typedef struct run {
  double *centers; /* k x d */
  uint32_t *labels;
  double inertia;
  int iterations;
} run;

static px_status run_k(const double *z, size_t n, int d, int k, const px_kmeans_opts *o, double *scratch,
                       uint32_t *cur_labels, run *best) {
  double cur[PX_KMEANS_MAX_K * PX_KMEANS_MAX_FEATURES];
  best->inertia = INFINITY;
  for (int r = 0; r < o->n_init; r++) {
    rng g = rng_stream(o->seed, (uint64_t)k, (uint64_t)r);
    px_status st = seed_pp(z, n, d, k, &g, cur, scratch);
    double inertia;
    int iters;
    if (st == PX_OK) st = px_kmeans_lloyd(z, n, d, k, cur, cur_labels, o->max_iter, o->tol, &inertia, &iters);
    if (st != PX_OK) return st;
    if (inertia < best->inertia) {
      best->inertia = inertia;
      best->iterations = iters;
      memcpy(best->centers, cur, (size_t)k * d * sizeof *cur);
      memcpy(best->labels, cur_labels, n * sizeof *cur_labels);
    }
  }
  return PX_OK;
}

/* ---- Silhouette. */

double px_kmeans_silhouette(const double *x, size_t n, int d, const uint32_t *labels, int k, double *per_point) {
  if (per_point)
    for (size_t i = 0; i < n; i++) per_point[i] = 0;
  if (k < 2 || n < 2 || k > PX_KMEANS_MAX_K) return 0;
  if (n > SIZE_MAX / sizeof(double) / (size_t)k) return 0;
  double *sums = calloc(n * (size_t)k, sizeof *sums); /* sums[i k + c]: distances from i to cluster c */
  size_t count[PX_KMEANS_MAX_K] = {0};
  if (!sums) return 0;
  for (size_t i = 0; i < n; i++) count[labels[i]]++;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double t = sqrt(dist2(x + i * (size_t)d, x + j * (size_t)d, d));
      sums[i * k + labels[j]] += t;
      sums[j * k + labels[i]] += t;
    }
  double total = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t own = labels[i];
    double s = 0, b = INFINITY;
    if (count[own] > 1) {
      double a = sums[i * k + own] / (double)(count[own] - 1);
      for (int c = 0; c < k; c++)
        if ((uint32_t)c != own && count[c]) b = fmin(b, sums[i * k + c] / (double)count[c]);
      double m = fmax(a, b);
      if (isfinite(b) && m > 0) s = (b - a) / m;
    }
    if (per_point) per_point[i] = s;
    total += s;
  }
  free(sums);
  return total / (double)n;
}

/* ---- The transform. */

static double forward(const px_kmeans_model *m, int f, double v) {
  double t = m->log1p[f] ? log1p(v) : v;
  return m->sd[f] > 0 ? (t - m->mean[f]) / m->sd[f] : 0;
}

static double inverse(const px_kmeans_model *m, int f, double zv) {
  double t = m->mean[f] + (m->sd[f] > 0 ? zv * m->sd[f] : 0);
  return m->log1p[f] ? expm1(t) : t;
}

static int row_ok(const unsigned char *log1p_flags, const double *row, int d, int *bad) {
  for (int f = 0; f < d; f++)
    if (!isfinite(row[f]) || (log1p_flags[f] && row[f] < 0)) {
      *bad = f;
      return 0;
    }
  return 1;
}

/* Validates x, fills mean/sd/constants and writes z (n x d). */
static px_status standardize(const double *x, size_t n, int d, px_kmeans_model *m, double *z, px_error *err) {
  for (size_t i = 0; i < n; i++) {
    int f;
    if (!row_ok(m->log1p, x + i * (size_t)d, d, &f))
      return px_error_set(err, PX_INVALID, "features", "row %zu, feature %d: %s", i, f + 1,
                          isfinite(x[i * (size_t)d + f]) ? "negative in a log1p feature" : "not a finite number");
  }
  m->constants = 0;
  for (int f = 0; f < d; f++) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      double t = x[i * (size_t)d + f];
      if (m->log1p[f]) t = log1p(t);
      z[i * (size_t)d + f] = t;
      sum += t;
      lo = fmin(lo, t), hi = fmax(hi, t);
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) {
      double t = z[i * (size_t)d + f] - mean;
      ss += t * t;
    }
    m->mean[f] = lo == hi ? lo : mean; /* constant: exact, not a rounded mean */
    m->sd[f] = lo == hi ? 0 : sqrt(ss / (double)n);
    if (m->sd[f] == 0) m->constants++;
    for (size_t i = 0; i < n; i++) {
      double *t = &z[i * (size_t)d + f];
      *t = m->sd[f] > 0 ? (*t - m->mean[f]) / m->sd[f] : 0;
    }
  }
  return PX_OK;
}

/* ---- Fit. */

void px_kmeans_free(px_kmeans_model *m) {
  if (!m) return;
  free(m->log1p);
  free(m->mean);
  free(m->sd);
  free(m->size);
  free(m->center);
  free(m->center_orig);
  free(m->member_mean);
  free(m->overall_mean);
  free(m->labels);
  memset(m, 0, sizeof *m);
}

/* Numbers clusters by size, largest first (ties: the earlier first). */
static void order_by_size(px_kmeans_model *m, double *centers) {
  int k = m->k, d = m->d, order[PX_KMEANS_MAX_K], rank[PX_KMEANS_MAX_K];
  size_t size[PX_KMEANS_MAX_K] = {0};
  for (size_t i = 0; i < m->n; i++) size[m->labels[i]]++;
  for (int j = 0; j < k; j++) order[j] = j;
  for (int a = 1; a < k; a++) /* insertion sort: stable, k is small */
    for (int b = a; b > 0 && size[order[b]] > size[order[b - 1]]; b--) {
      int t = order[b];
      order[b] = order[b - 1], order[b - 1] = t;
    }
  for (int j = 0; j < k; j++) {
    rank[order[j]] = j;
    m->size[j] = size[order[j]];
    memcpy(m->center + (size_t)j * d, centers + (size_t)order[j] * d, (size_t)d * sizeof *centers);
  }
  for (size_t i = 0; i < m->n; i++) m->labels[i] = (uint32_t)rank[m->labels[i]];
}

static void summarize(px_kmeans_model *m, const double *x) {
  int k = m->k, d = m->d;
  for (int j = 0; j < k; j++)
    for (int f = 0; f < d; f++)
      m->center_orig[(size_t)j * d + f] = inverse(m, f, m->center[(size_t)j * d + f]);
  for (size_t i = 0; i < m->n; i++) {
    double *mm = m->member_mean + (size_t)m->labels[i] * d;
    for (int f = 0; f < d; f++) mm[f] += x[i * (size_t)d + f], m->overall_mean[f] += x[i * (size_t)d + f];
  }
  for (int f = 0; f < d; f++) m->overall_mean[f] /= (double)m->n;
  for (int j = 0; j < k; j++)
    for (int f = 0; f < d; f++) m->member_mean[(size_t)j * d + f] /= (double)m->size[j];
}

/* ns of n rows, each as likely, in order (Knuth's selection sampling,
 * algorithm S); idx NULL when ns >= n (all of them). */
typedef struct sample {
  size_t *idx, ns;
  double *xs;  /* ns x d: the rows, gathered */
  uint32_t *ls; /* ns: their labels */
} sample;

static px_status sample_make(sample *s, size_t n, size_t want, int d, rng g) {
  *s = (sample){.ns = n <= want ? n : want};
  if (s->ns == n) return PX_OK;
  s->idx = malloc(s->ns * sizeof *s->idx);
  s->xs = malloc(s->ns * (size_t)d * sizeof *s->xs);
  s->ls = malloc(s->ns * sizeof *s->ls);
  if (!s->idx || !s->xs || !s->ls) return PX_NOMEM;
  for (size_t i = 0, got = 0; got < s->ns; i++)
    if (rng_uniform(&g) * (double)(n - i) < (double)(s->ns - got)) s->idx[got++] = i;
  return PX_OK;
}

static void sample_free(sample *s) {
  free(s->idx);
  free(s->xs);
  free(s->ls);
}

/* Silhouette of labels over the sample's rows. */
static double sample_silhouette(const sample *s, const double *z, int d, const uint32_t *labels, int k) {
  if (!s->idx) return px_kmeans_silhouette(z, s->ns, d, labels, k, NULL);
  for (size_t i = 0; i < s->ns; i++) {
    memcpy(s->xs + i * (size_t)d, z + s->idx[i] * (size_t)d, (size_t)d * sizeof *s->xs);
    s->ls[i] = labels[s->idx[i]];
  }
  return px_kmeans_silhouette(s->xs, s->ns, d, s->ls, k, NULL);
}

/* Tries k = 2..kmax on z (n points): the best mean silhouette over the
 * sample wins, ties to the smaller k. *k_out stays 1 when not even k = 2
 * can be filled. */
static px_status choose_k(const double *z, size_t n, int d, const px_kmeans_opts *o, double *scratch, uint32_t *cur,
                          run *here, px_kmeans_model *m, int *k_out) {
  sample sil;
  px_status st = sample_make(&sil, n, o->silhouette_sample, d, rng_stream(o->seed, STREAM_SAMPLE, 1));
  int kmax = (size_t)o->kmax < n ? o->kmax : (int)(n - 1);
  double best = -INFINITY;
  *k_out = 1;
  for (int k = 2; k <= kmax && st == PX_OK; k++) {
    st = run_k(z, n, d, k, o, scratch, cur, here);
    if (st == PX_INVALID) { /* fewer than k distinct points: no larger k either */
      st = PX_OK;
      break;
    }
    if (st != PX_OK) break;
    m->tried[k] = sample_silhouette(&sil, z, d, here->labels, k);
    m->kmax_tried = k;
    if (m->tried[k] > best) best = m->tried[k], *k_out = k;
  }
  sample_free(&sil);
  return st;
}

px_status px_kmeans_fit(const double *x, size_t n, int d, const px_kmeans_opts *opts, px_kmeans_model *out,
                        px_error *err) {
  memset(out, 0, sizeof *out);
  px_kmeans_opts o = opts ? *opts : (px_kmeans_opts){0};
  if (!o.kmax) o.kmax = PX_KMEANS_KMAX;
  if (!o.n_init) o.n_init = PX_KMEANS_N_INIT;
  if (!o.max_iter) o.max_iter = PX_KMEANS_MAX_ITER;
  if (!o.silhouette_sample) o.silhouette_sample = PX_KMEANS_SAMPLE;
  if (!o.fit_sample) o.fit_sample = PX_KMEANS_FIT_SAMPLE;
  if (o.tol == 0) o.tol = PX_KMEANS_TOL;
  if (n == 0) return px_error_set(err, PX_INVALID, "features", "no points");
  if (n > UINT32_MAX) return px_error_set(err, PX_INVALID, "features", "more than %u points", UINT32_MAX);
  if (d < 1 || d > PX_KMEANS_MAX_FEATURES)
    return px_error_set(err, PX_INVALID, "features", "%d features: must be 1..%d", d, PX_KMEANS_MAX_FEATURES);
  if (o.k < 0 || o.k > PX_KMEANS_MAX_K)
    return px_error_set(err, PX_INVALID, "k", "%d: must be 1..%d (0: choose)", o.k, PX_KMEANS_MAX_K);
  if (!o.k && (o.kmax < 2 || o.kmax > PX_KMEANS_MAX_K))
    return px_error_set(err, PX_INVALID, "kmax", "%d: must be 2..%d", o.kmax, PX_KMEANS_MAX_K);
  if (o.n_init < 0 || o.max_iter < 0) return px_error_set(err, PX_INVALID, "n_init", "must not be negative");
  if ((size_t)o.k > n)
    return px_error_set(err, PX_INVALID, "k", "%d clusters asked of %zu points", o.k, n);

  px_status st = PX_NOMEM;
  px_kmeans_model *m = out;
  size_t nd = n * (size_t)d;
  double *z = NULL, *scratch = NULL;
  uint32_t *cur = NULL;
  double best_centers[PX_KMEANS_MAX_K * PX_KMEANS_MAX_FEATURES];
  run here = {0};
  sample sil = {0}, sub = {0};
  m->d = d;
  m->n = n;
  m->log1p = calloc((size_t)d, 1);
  m->mean = calloc((size_t)d, sizeof *m->mean);
  m->sd = calloc((size_t)d, sizeof *m->sd);
  m->overall_mean = calloc((size_t)d, sizeof *m->overall_mean);
  m->labels = calloc(n, sizeof *m->labels);
  z = malloc(nd * sizeof *z);
  if (!m->log1p || !m->mean || !m->sd || !m->overall_mean || !m->labels || !z) goto out;
  if (o.log1p) memcpy(m->log1p, o.log1p, (size_t)d);
  if ((st = standardize(x, n, d, m, z, err)) != PX_OK) goto out;

  st = PX_NOMEM;
  scratch = malloc(n * sizeof *scratch);
  cur = malloc(n * sizeof *cur);
  here.labels = malloc(n * sizeof *here.labels);
  here.centers = malloc(sizeof best_centers);
  if (!scratch || !cur || !here.labels || !here.centers) goto out;
  if ((st = sample_make(&sil, n, o.silhouette_sample, d, rng_stream(o.seed, STREAM_SAMPLE, 0))) != PX_OK) goto out;

  /* Restarts (and the k tried, when choosing) on a sample of the points
   * when there are many; the best centroids then refined on all. */
  if ((st = sample_make(&sub, n, o.fit_sample, d, rng_stream(o.seed, STREAM_SAMPLE, 2))) != PX_OK) goto out;
  if (sub.idx)
    for (size_t i = 0; i < sub.ns; i++)
      memcpy(sub.xs + i * (size_t)d, z + sub.idx[i] * (size_t)d, (size_t)d * sizeof *z);
  const double *zs = sub.idx ? sub.xs : z;
  m->k = o.k;
  if (!o.k) {
    m->chosen = 1;
    if ((st = choose_k(zs, sub.ns, d, &o, scratch, cur, &here, m, &m->k)) != PX_OK) goto out;
  }
  if (m->k > 1) {
    st = run_k(zs, sub.ns, d, m->k, &o, scratch, cur, &here);
    if (st == PX_INVALID) {
      px_error_set(err, st, "k", "the points have fewer than %d distinct values", m->k);
      goto out;
    }
    if (st == PX_OK && sub.idx)
      st = px_kmeans_lloyd(z, n, d, m->k, here.centers, here.labels, o.max_iter, o.tol, &here.inertia,
                           &here.iterations);
    if (st != PX_OK) goto out;
    memcpy(m->labels, here.labels, n * sizeof *cur);
    memcpy(best_centers, here.centers, (size_t)m->k * d * sizeof *best_centers);
    m->inertia = here.inertia;
    m->iterations = here.iterations;
    m->silhouette = sample_silhouette(&sil, z, d, m->labels, m->k);
  } else { /* one cluster of everyone: the centroid is the mean, 0 in z */
    memset(m->labels, 0, n * sizeof *m->labels);
    memset(best_centers, 0, (size_t)d * sizeof *best_centers);
    double inertia = 0;
    for (size_t i = 0; i < nd; i++) inertia += z[i] * z[i];
    m->inertia = inertia;
    m->iterations = 0;
    m->silhouette = 0;
  }
  m->silhouette_n = sil.ns;

  st = PX_NOMEM;
  m->size = calloc((size_t)m->k, sizeof *m->size);
  m->center = calloc((size_t)m->k * d, sizeof *m->center);
  m->center_orig = calloc((size_t)m->k * d, sizeof *m->center_orig);
  m->member_mean = calloc((size_t)m->k * d, sizeof *m->member_mean);
  if (!m->size || !m->center || !m->center_orig || !m->member_mean) goto out;
  order_by_size(m, best_centers);
  summarize(m, x);
  st = PX_OK;
out:
  free(z);
  free(scratch);
  free(cur);
  free(here.labels);
  free(here.centers);
  sample_free(&sil);
  sample_free(&sub);
  if (st != PX_OK) px_kmeans_free(m);
  return st;
}

/* ---- Assignment. */

int px_kmeans_assign_one(const px_kmeans_model *m, const double *row) {
  double zr[PX_KMEANS_MAX_FEATURES];
  int bad;
  if (!row_ok(m->log1p, row, m->d, &bad)) return -1;
  for (int f = 0; f < m->d; f++) zr[f] = forward(m, f, row[f]);
  return (int)nearest(zr, m->center, m->k, m->d);
}

size_t px_kmeans_assign(const px_kmeans_model *m, const double *x, size_t n, int32_t *labels) {
  size_t refused = 0;
  for (size_t i = 0; i < n; i++) {
    labels[i] = px_kmeans_assign_one(m, x + i * (size_t)m->d);
    refused += labels[i] < 0;
  }
  return refused;
}

/* ---- Words. */

/* A value for people: 1,240 / 12 / 8.2 / 1.25 / 0.035. */
static void fmt_value(char *out, size_t cap, double v) {
  double a = fabs(v);
  if (!isfinite(v)) {
    snprintf(out, cap, "n/a");
  } else if (a >= 1e15) {
    snprintf(out, cap, "%.3g", v);
  } else if (a >= 99.5) {
    char digits[32], *o = out;
    long long r = llround(v);
    int len = snprintf(digits, sizeof digits, "%lld", r < 0 ? -r : r);
    if (r < 0) *o++ = '-';
    for (int i = 0; i < len; i++) {
      *o++ = digits[i];
      if ((len - i - 1) % 3 == 0 && i < len - 1) *o++ = ',';
    }
    *o = 0;
  } else if (a == 0) {
    snprintf(out, cap, "0");
  } else {
    snprintf(out, cap, a >= 9.95 ? "%.1f" : a >= 1 ? "%.2f" : "%.2g", v);
    if (strchr(out, '.') && !strchr(out, 'e')) { /* 12.0 -> 12, 8.20 -> 8.2 */
      char *e = out + strlen(out) - 1;
      while (*e == '0') *e-- = 0;
      if (*e == '.') *e = 0;
    }
  }
}

static const px_kmeans_hint *hint_for(const char *name, const px_kmeans_hint *hints, size_t nhints) {
  for (size_t h = 0; name && hints && h < nhints; h++)
    if (hints[h].feature && strcmp(hints[h].feature, name) == 0) return &hints[h];
  return NULL;
}

static px_status feature_name(px_buf *out, const char *const *names, int f) {
  return names && names[f] ? px_buf_puts(out, names[f]) : px_buf_printf(out, "feature %d", f + 1);
}

px_status px_kmeans_describe_cluster(const px_kmeans_model *m, int c, const char *const *names,
                                     const px_kmeans_hint *hints, size_t nhints, px_buf *out) {
  if (c < 0 || c >= m->k) return PX_INVALID;
  int d = m->d, order[PX_KMEANS_MAX_FEATURES], shown = 0;
  const double *zc = m->center + (size_t)c * d;
  for (int f = 0; f < d; f++) order[f] = f;
  for (int a = 1; a < d; a++) /* by |z|, largest first; ties keep feature order */
    for (int b = a; b > 0 && fabs(zc[order[b]]) > fabs(zc[order[b - 1]]); b--) {
      int t = order[b];
      order[b] = order[b - 1], order[b - 1] = t;
    }
  px_status st = PX_OK;
  for (int i = 0; i < d && shown < PX_KMEANS_DESCRIBE_MAX && st == PX_OK; i++) {
    int f = order[i];
    double zv = zc[f];
    if (!(fabs(zv) >= PX_KMEANS_NOTABLE_Z) || m->sd[f] == 0) break;
    const px_kmeans_hint *h = hint_for(names ? names[f] : NULL, hints, nhints);
    const char *words = h ? (zv > 0 ? h->high : h->low) : NULL;
    char value[48];
    fmt_value(value, sizeof value, m->member_mean[(size_t)c * d + f]);
    if (shown++) st = px_buf_puts(out, ", ");
    if (st == PX_OK && words) st = px_buf_puts(out, words);
    if (st == PX_OK && !words) {
      st = px_buf_puts(out, zv > 0 ? "high " : "low ");
      if (st == PX_OK) st = feature_name(out, names, f);
    }
    if (st == PX_OK)
      st = px_buf_printf(out, " (z %+.1f, mean %s%s%s)", zv, value, h && h->unit ? " " : "",
                         h && h->unit ? h->unit : "");
  }
  if (st == PX_OK && !shown) st = px_buf_puts(out, "close to average on every feature");
  return st;
}

static px_status count_words(px_buf *out, size_t v) {
  char s[48];
  fmt_value(s, sizeof s, (double)v);
  return px_buf_puts(out, s);
}

px_status px_kmeans_describe(const px_kmeans_model *m, const char *const *names, const px_kmeans_hint *hints,
                             size_t nhints, px_buf *out) {
  px_status st = px_buf_printf(out, "%d cluster%s of ", m->k, m->k == 1 ? "" : "s");
  if (st == PX_OK) st = count_words(out, m->n);
  if (st == PX_OK) st = px_buf_puts(out, " customers");
  if (st == PX_OK && m->k > 1) {
    if (m->chosen)
      st = px_buf_printf(out, ", chosen by silhouette (%.2f; k = 2..%d tried", m->silhouette, m->kmax_tried);
    else
      st = px_buf_printf(out, " (silhouette %.2f", m->silhouette);
    if (st == PX_OK) st = px_buf_puts(out, m->silhouette_n < m->n ? ", on a sample of " : ", exact)");
    if (st == PX_OK && m->silhouette_n < m->n) st = count_words(out, m->silhouette_n);
    if (st == PX_OK && m->silhouette_n < m->n) st = px_buf_puts(out, ")");
  } else if (st == PX_OK && m->chosen) {
    st = px_buf_puts(out, " (no structure found: the points are all alike)");
  }
  if (st == PX_OK) st = px_buf_puts(out, "\n");
  for (int c = 0; c < m->k && st == PX_OK; c++) {
    st = px_buf_printf(out, "cluster %d: ", c);
    if (st == PX_OK) st = count_words(out, m->size[c]);
    if (st == PX_OK) st = px_buf_printf(out, " customers (%.1f%%): ", 100.0 * (double)m->size[c] / (double)m->n);
    if (st == PX_OK) st = px_kmeans_describe_cluster(m, c, names, hints, nhints, out);
    if (st == PX_OK) st = px_buf_puts(out, "\n");
  }
  int listed = 0;
  for (int f = 0; f < m->d && st == PX_OK; f++) {
    if (m->sd[f] > 0) continue;
    char value[48];
    fmt_value(value, sizeof value, m->overall_mean[f]);
    st = px_buf_puts(out, listed++ ? ", " : "constant, left out: ");
    if (st == PX_OK) st = feature_name(out, names, f);
    if (st == PX_OK) st = px_buf_printf(out, " (always %s)", value);
  }
  if (st == PX_OK && listed) st = px_buf_puts(out, "\n");
  return st;
}

static px_status json_num(px_buf *out, double v) {
  return isfinite(v) ? px_buf_printf(out, "%.10g", v) : px_buf_puts(out, "null");
}

static px_status json_row(px_buf *out, const double *v, int d) {
  px_status st = px_buf_putc(out, '[');
  for (int f = 0; f < d && st == PX_OK; f++) {
    if (f) st = px_buf_putc(out, ',');
    if (st == PX_OK) st = json_num(out, v[f]);
  }
  return st == PX_OK ? px_buf_putc(out, ']') : st;
}

px_status px_kmeans_json(const px_kmeans_model *m, const char *const *names, const px_kmeans_hint *hints,
                         size_t nhints, px_buf *out) {
  int d = m->d;
  px_buf words;
  px_buf_init(&words, 0);
  px_status st = px_buf_printf(out, "{\"k\":%d,\"n\":%zu,\"d\":%d,\"chosen\":%s,\"inertia\":", m->k, m->n, d,
                               m->chosen ? "true" : "false");
  if (st == PX_OK) st = json_num(out, m->inertia);
  if (st == PX_OK) st = px_buf_printf(out, ",\"iterations\":%d,\"silhouette\":", m->iterations);
  if (st == PX_OK) st = json_num(out, m->silhouette);
  if (st == PX_OK) st = px_buf_printf(out, ",\"silhouette_n\":%zu", m->silhouette_n);
  if (st == PX_OK && m->chosen) {
    st = px_buf_puts(out, ",\"tried\":[");
    for (int k = 2; k <= m->kmax_tried && st == PX_OK; k++) {
      st = px_buf_printf(out, "%s{\"k\":%d,\"silhouette\":", k > 2 ? "," : "", k);
      if (st == PX_OK) st = json_num(out, m->tried[k]);
      if (st == PX_OK) st = px_buf_putc(out, '}');
    }
    if (st == PX_OK) st = px_buf_putc(out, ']');
  }
  if (st == PX_OK) st = px_buf_puts(out, ",\"features\":[");
  for (int f = 0; f < d && st == PX_OK; f++) {
    px_buf_reset(&words);
    st = feature_name(&words, names, f);
    if (st == PX_OK) st = px_buf_puts(out, f ? ",{\"name\":" : "{\"name\":");
    if (st == PX_OK) st = px_buf_json_str(out, words.data, words.len);
    if (st == PX_OK)
      st = px_buf_printf(out, ",\"log1p\":%s,\"constant\":%s,\"mean\":", m->log1p[f] ? "true" : "false",
                         m->sd[f] > 0 ? "false" : "true");
    if (st == PX_OK) st = json_num(out, m->mean[f]);
    if (st == PX_OK) st = px_buf_puts(out, ",\"sd\":");
    if (st == PX_OK) st = json_num(out, m->sd[f]);
    if (st == PX_OK) st = px_buf_puts(out, ",\"overall_mean\":");
    if (st == PX_OK) st = json_num(out, m->overall_mean[f]);
    if (st == PX_OK) st = px_buf_putc(out, '}');
  }
  if (st == PX_OK) st = px_buf_puts(out, "],\"clusters\":[");
  for (int c = 0; c < m->k && st == PX_OK; c++) {
    st = px_buf_printf(out, "%s{\"id\":%d,\"size\":%zu,\"share\":", c ? "," : "", c, m->size[c]);
    if (st == PX_OK) st = json_num(out, (double)m->size[c] / (double)m->n);
    if (st == PX_OK) st = px_buf_puts(out, ",\"center_z\":");
    if (st == PX_OK) st = json_row(out, m->center + (size_t)c * d, d);
    if (st == PX_OK) st = px_buf_puts(out, ",\"center\":");
    if (st == PX_OK) st = json_row(out, m->center_orig + (size_t)c * d, d);
    if (st == PX_OK) st = px_buf_puts(out, ",\"member_mean\":");
    if (st == PX_OK) st = json_row(out, m->member_mean + (size_t)c * d, d);
    if (st == PX_OK) {
      px_buf_reset(&words);
      st = px_kmeans_describe_cluster(m, c, names, hints, nhints, &words);
    }
    if (st == PX_OK) st = px_buf_puts(out, ",\"description\":");
    if (st == PX_OK) st = px_buf_json_str(out, words.data ? words.data : "", words.len);
    if (st == PX_OK) st = px_buf_putc(out, '}');
  }
  if (st == PX_OK) st = px_buf_puts(out, "]}");
  px_buf_free(&words);
  return st;
}
