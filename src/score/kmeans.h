/* Segment discovery: k-means over per-customer feature vectors (issue 4,
 * `pickaxe discover`). Pure computation, no storage: the caller hands in an
 * n x d matrix of doubles (row per customer, column per feature), gets back
 * clusters, their centroids in standardized and original units, and words
 * for each cluster.
 *
 * Features are standardized first (z-scores; optionally log1p for skewed
 * non-negative features such as revenue), so no feature dominates by its
 * units. Centroids are seeded by k-means++ from a seeded PRNG (same seed,
 * same result), refined by Lloyd iterations, the best of n_init restarts
 * kept. When k is not given, k = 2..kmax are tried and the best mean
 * silhouette (on a seeded sample) wins. See docs/internals/score.md. */
#ifndef PX_SCORE_KMEANS_H
#define PX_SCORE_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

#define PX_KMEANS_MAX_K 64         /* clusters, given or tried */
#define PX_KMEANS_MAX_FEATURES 64  /* d */
#define PX_KMEANS_KMAX 8           /* default kmax when choosing k */
#define PX_KMEANS_N_INIT 4         /* default restarts */
#define PX_KMEANS_MAX_ITER 300     /* default Lloyd rounds per restart */
#define PX_KMEANS_SAMPLE 2000      /* default silhouette sample */
#define PX_KMEANS_FIT_SAMPLE 100000 /* default sample the restarts run on */
#define PX_KMEANS_TOL 1e-4         /* default share of points moving that still ends the iterations */
#define PX_KMEANS_NOTABLE_Z 0.5    /* a centroid coordinate stands out from |z| >= this */
#define PX_KMEANS_DESCRIBE_MAX 3   /* features named per cluster at most */

/* Every field: 0 means the default. A zeroed struct is a valid choice. */
typedef struct px_kmeans_opts {
  int k;                    /* clusters; 0: choose by silhouette among 2..kmax */
  int kmax;                 /* largest k tried when choosing (PX_KMEANS_KMAX) */
  int n_init;               /* k-means++ restarts; the lowest inertia is kept (PX_KMEANS_N_INIT) */
  int max_iter;             /* Lloyd rounds per restart (PX_KMEANS_MAX_ITER) */
  double tol;               /* stop once a round moves at most tol x n points (PX_KMEANS_TOL);
                             * negative: only once no point moves */
  uint64_t seed;            /* every random choice follows from it (0 is a seed like any other) */
  size_t silhouette_sample; /* points the silhouette is computed on; exact when n <= this (PX_KMEANS_SAMPLE) */
  size_t fit_sample;        /* when n is larger, the restarts (and each k tried, when choosing) run on a
                             * sample of this many points; the best centroids are then refined by
                             * Lloyd on all points (PX_KMEANS_FIT_SAMPLE) */
  const unsigned char *log1p; /* d flags (may be NULL: none): 1 = transform by log1p before z-scores;
                               * such a feature must be >= 0. Borrowed during px_kmeans_fit only. */
} px_kmeans_opts;

/* A fitted model. Everything is owned by the model (px_kmeans_free). */
typedef struct px_kmeans_model {
  int d, k;
  size_t n; /* points fitted */
  /* The transform, per feature f: t = log1p(x) when log1p[f], else x;
   * z = (t - mean[f]) / sd[f], or 0 when sd[f] == 0 (a constant feature,
   * which then plays no part). */
  unsigned char *log1p; /* d */
  double *mean;         /* d: mean of t */
  double *sd;           /* d: population standard deviation of t; 0: constant */
  int constants;        /* how many features are constant */
  /* Clusters, numbered 0..k-1 by size, largest first. */
  size_t *size;         /* k */
  double *center;       /* k x d: centroids, standardized (z) */
  double *center_orig;  /* k x d: the same back in original units (the inverse transform) */
  double *member_mean;  /* k x d: arithmetic mean of the members' original values */
  double *overall_mean; /* d: of all points, original units */
  uint32_t *labels;     /* n: the cluster of each fitted point */
  double inertia;       /* sum of squared standardized distances to the own centroid */
  int iterations;       /* Lloyd rounds of the kept restart (of the refinement on all points, when
                         * the restarts ran on the fit sample) */
  double silhouette;    /* mean silhouette of the result; 0 when k == 1 */
  size_t silhouette_n;  /* points it was computed on (n, or the sample size) */
  int chosen;           /* 1: k was chosen by silhouette */
  int kmax_tried;       /* when chosen: k = 2..kmax_tried were tried */
  double tried[PX_KMEANS_MAX_K + 1]; /* when chosen: mean silhouette per k tried (fitted on the
                                      * fit sample, silhouette on a sample of that) */
} px_kmeans_model;

/* Words for one feature in descriptions. Any member but feature may be
 * NULL: high/low default to "high NAME" / "low NAME", unit to none. */
typedef struct px_kmeans_hint {
  const char *feature; /* the feature name this applies to */
  const char *high;    /* e.g. "frequent orders" */
  const char *low;     /* e.g. "few orders" */
  const char *unit;    /* after a value, e.g. "days" ("mean 12 days") */
} px_kmeans_hint;

/* Fits x (n rows of d features, row by row). k given: PX_INVALID when
 * k > n or when x has fewer than k distinct (standardized) points. k
 * chosen: kmax is lowered to n - 1; a k the data cannot fill ends the
 * search; when every point is the same (all features constant, or n < 2)
 * the answer is k = 1, one cluster of everyone. PX_INVALID also for n == 0,
 * d outside 1..PX_KMEANS_MAX_FEATURES, k or kmax outside
 * 1..PX_KMEANS_MAX_K (kmax >= 2), a non-finite value, or a negative value
 * in a log1p feature (err names the row and feature). PX_NOMEM. On failure
 * *out is empty (px_kmeans_free is still safe). */
px_status px_kmeans_fit(const double *x, size_t n, int d, const px_kmeans_opts *opts, px_kmeans_model *out,
                        px_error *err);
void px_kmeans_free(px_kmeans_model *m);

/* The cluster of a new point (d original values, as for fit): the nearest
 * centroid after the model's transform; ties go to the lower cluster. -1
 * when fit would have refused the row (non-finite, negative in a log1p
 * feature). */
int px_kmeans_assign_one(const px_kmeans_model *m, const double *row);
/* The same for n rows; returns how many got -1. */
size_t px_kmeans_assign(const px_kmeans_model *m, const double *x, size_t n, int32_t *labels);

/* Lloyd iterations on already-standardized points z (n x d) from the given
 * centroids (k x d, updated in place) until no assignment changes, a round
 * moves at most tol x n points (tol <= 0: none), or max_iter rounds; the
 * centroids returned are the means of the clusters returned. A cluster left empty takes the point farthest from its
 * centroid (among clusters of two or more). labels (n) gets the
 * assignment; *inertia and *iterations (may be NULL) the result.
 * PX_INVALID when an empty cluster cannot be filled (fewer than k distinct
 * points); PX_NOMEM. */
px_status px_kmeans_lloyd(const double *z, size_t n, int d, int k, double *centers, uint32_t *labels, int max_iter,
                          double tol, double *inertia, int *iterations);

/* Mean silhouette of a labelled set (Euclidean distances, k clusters):
 * s(i) = (b - a) / max(a, b), a the mean distance to the rest of its own
 * cluster, b the least mean distance to another cluster's points; 0 for a
 * point alone in its cluster. per_point (may be NULL) gets each s(i).
 * O(n^2 d): meant for samples. Returns 0 when k < 2 or n < 2. */
double px_kmeans_silhouette(const double *x, size_t n, int d, const uint32_t *labels, int k, double *per_point);

/* The plain words for cluster c: the features whose centroid stands out
 * most (|z| >= PX_KMEANS_NOTABLE_Z, largest first, PX_KMEANS_DESCRIBE_MAX at
 * most), e.g. "high revenue (z +1.8, mean 1,240), low recency (z -1.1, mean
 * 12 days)", or "close to average on every feature". names: d feature names
 * (may be NULL: "feature 1"...); hints: nhints entries (may be NULL). */
px_status px_kmeans_describe_cluster(const px_kmeans_model *m, int c, const char *const *names,
                                     const px_kmeans_hint *hints, size_t nhints, px_buf *out);
/* A summary line, then a line per cluster: its number, size, share and
 * words; then the constant features, if any. */
px_status px_kmeans_describe(const px_kmeans_model *m, const char *const *names, const px_kmeans_hint *hints,
                             size_t nhints, px_buf *out);
/* The model as one JSON object: k, n, inertia, silhouette (and the ones
 * tried), the transform per feature, and per cluster its size, centroid
 * (standardized and original units), member means and description. */
px_status px_kmeans_json(const px_kmeans_model *m, const char *const *names, const px_kmeans_hint *hints,
                         size_t nhints, px_buf *out);

/* Writes to out, in the rule language (docs/RULES.md), the condition that
 * a point is nearer to centroid c than to every other one (a tie is not
 * nearer): k - 1 linear inequalities over the transformed features, joined
 * by "and", such as "-1.2 * computed.orders + 0.004 * log1p(computed.revenue)
 * < -3.5 and ...". terms[f] is feature f's value after the model's transform
 * as rule text (with log1p(...) for a log1p feature); constant features are
 * left out. Where the rule and px_kmeans_assign_one can disagree: at ties
 * (the rule holds for neither cluster, assign picks the lower) and, by
 * rounding, within about 1e-12 of a boundary. PX_INVALID for k < 2 or c
 * out of range; PX_NOMEM, PX_TOO_LARGE (out's cap). */
px_status px_kmeans_nearest_rule(const px_kmeans_model *m, int c, const char *const *terms, px_buf *out);

#endif
