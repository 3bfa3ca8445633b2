/* BG/NBD and Gamma-Gamma (see btyd.h). Formulas from Fader, Hardie & Lee
 * (2005), "Counting your customers the easy way" (BG/NBD) and "RFM and
 * CLV" (Gamma-Gamma). Everything is computed in log space; the fits minimise
 * the mean negative log-likelihood over log-parameters (so the parameters
 * stay positive) with GSL's BFGS and an analytic gradient, finished by
 * Newton steps, starting over from GSL's Nelder-Mead simplex when that does
 * not reach an optimum; each evaluation sums over the distinct customers,
 * weighted, on two threads when there are many ("Customers grouped"). */
#include "clv/btyd.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>

/* Log-parameters beyond this are treated as outside the model: exp() of
 * them would overflow the sums long before any data set could want them. */
#define LOG_PARAM_MAX 40.0
/* A fitted log-parameter beyond this is a likelihood still rising towards
 * a boundary (e.g. every customer alike, so r and alpha run off together):
 * no interior optimum, so the fit did not converge. */
#define LOG_PARAM_BOUNDARY 25.0
/* The objective's value outside the model: finite, since GSL's simplex
 * stops with an error on anything else, and larger than any real value. */
#define FAR_AWAY 1e10
/* Convergence: the norm of the gradient of the mean negative
 * log-likelihood with respect to the log-parameters. BFGS crawls along
 * narrow ridges (Gamma-Gamma's q and gamma), so it only brings the
 * parameters near the optimum (BFGS_NEAR) and Newton steps finish
 * (NEWTON_TOL); when they cannot, BFGS goes on to BFGS_TOL, where its line
 * search may also stall a few digits short. A fit is accepted below
 * FIT_TOL. */
#define BFGS_NEAR 1e-5
#define BFGS_TOL 1e-10
#define NEWTON_TOL 1e-12
#define FIT_TOL 1e-8
#define NEWTON_MAX_ITER 8
/* The step of the central differences for the Hessian (log-parameters). */
#define HESSIAN_STEP 1e-5
#define BFGS_MAX_ITER 1000
#define SIMPLEX_MAX_ITER 5000
/* The hypergeometric series below take about 40/(1-z) = 40 (1 + t/(alpha+T))
 * terms: beyond t/(alpha+T) = 1e5 GSL's 2F1 takes over. */
#define SERIES_MAX_S 1e5
#define SERIES_MAX_TERMS 20000000

/* GSL's default error handler aborts the process. Every GSL status here is
 * checked, so the handler is switched off once; GSL only offers this
 * process-wide. */
static pthread_once_t gsl_quiet_once = PTHREAD_ONCE_INIT;
static void gsl_quiet_init(void) { gsl_set_error_handler_off(); }
static void gsl_quiet(void) { pthread_once(&gsl_quiet_once, gsl_quiet_init); }

static int positive(double v) { return isfinite(v) && v > 0; }

static int bgnbd_ok(const px_bgnbd *m) {
  return m && positive(m->r) && positive(m->alpha) && positive(m->a) && positive(m->b);
}

/* x is a count of repeat purchases, so a whole number; a fraction in (0, 1)
 * would make b + x - 1 negative. */
static int customer_ok(double x, double t_x, double T) {
  return isfinite(x) && isfinite(t_x) && isfinite(T) && x >= 0 && x == floor(x) && t_x >= 0 &&
         t_x <= T;
}

/* ---- BG/NBD log-likelihood ----
 * One customer (x, t_x, T) contributes
 *   log[Γ(r+x) α^r / Γ(r)] + log[B(a, b+x) / B(a, b)]
 *     + log[(α+T)^-(r+x) + δ(x>0) a/(b+x-1) (α+t_x)^-(r+x)].
 * The first two terms depend on x only (shared by many customers in a fit);
 * the last is combined as a log-sum-exp so neither power underflows. */

typedef struct bg_par {
  double r, alpha, a, b, log_alpha;
} bg_par;

/* The x-only terms of one customer's log-likelihood and of its gradient. */
typedef struct xterms {
  double k0;  /* log[Γ(r+x)/Γ(r)] + log[B(a, b+x)/B(a, b)], as Pochhammer symbols */
  double lw2; /* log[a/(b+x-1)], the weight of "dropped out at t_x" */
  double dr, da, db; /* their derivatives in r, a, b (digamma differences) */
  double inv_bx; /* 1/(b+x-1) (0 when x == 0), for the derivative in b */
} xterms;

static void xterms_of(const bg_par *p, double x, int grad, xterms *k) {
  /* lnpoch(v, x) = log Γ(v+x) - log Γ(v) without cancelling two large logs. */
  k->k0 = gsl_sf_lnpoch(p->r, x) + gsl_sf_lnpoch(p->b, x) - gsl_sf_lnpoch(p->a + p->b, x);
  k->lw2 = x > 0 ? log(p->a) - log(p->b + x - 1) : 0;
  if (!grad) return;
  k->inv_bx = x > 0 ? 1 / (p->b + x - 1) : 0;
  double ab = x > 0 ? gsl_sf_psi(p->a + p->b) - gsl_sf_psi(p->a + p->b + x) : 0;
  k->dr = x > 0 ? gsl_sf_psi(p->r + x) - gsl_sf_psi(p->r) : 0;
  k->da = ab;
  k->db = x > 0 ? gsl_sf_psi(p->b + x) - gsl_sf_psi(p->b) + ab : 0;
}

/* One customer's log-likelihood; when g is not NULL, adds w times the
 * derivatives with respect to log r, log alpha, log a, log b to g[0..3]
 * (w: how many customers share these numbers). */
static inline double bg_loglik_one(const bg_par *p, const xterms *k, double x, double t_x,
                                   double T, double w, double g[4]) {
  double lT = log(p->alpha + T), l1 = -(p->r + x) * lT;
  double s = l1, w1 = 1, w2 = 0, lt = 0;
  if (x > 0) {
    lt = log(p->alpha + t_x);
    double l2 = k->lw2 - (p->r + x) * lt;
    /* The two terms' shares of the sum: the larger one's 1/(1+e), the
     * smaller one's e/(1+e), with e the ratio of the smaller to the larger.
     * log(1+e) rather than log1p(e): e is in [0, 1], so the two differ by
     * an ulp of a number below 1, less than adding it to the larger log
     * rounds anyway (and log is twice as fast). */
    double e = exp(-fabs(l1 - l2)), big = 1 / (1 + e), small = e * big;
    s = fmax(l1, l2) + log(1 + e);
    w1 = l1 >= l2 ? big : small;
    w2 = l1 >= l2 ? small : big;
  }
  if (g) {
    g[0] += w * p->r * (k->dr + p->log_alpha - w1 * lT - w2 * lt);
    g[1] += w * (p->r - (p->r + x) * p->alpha * (w1 / (p->alpha + T) + w2 / (p->alpha + t_x)));
    g[2] += w * (p->a * k->da + w2);
    g[3] += w * p->b * (k->db - w2 * k->inv_bx);
  }
  return k->k0 + p->r * p->log_alpha + s;
}

static bg_par bg_par_of(const px_bgnbd *m) {
  return (bg_par){m->r, m->alpha, m->a, m->b, log(m->alpha)};
}

double px_bgnbd_loglik(const px_bgnbd *m, double x, double t_x, double T) {
  if (!bgnbd_ok(m) || !customer_ok(x, t_x, T)) return NAN;
  gsl_quiet();
  bg_par p = bg_par_of(m);
  xterms k;
  xterms_of(&p, x, 0, &k);
  return bg_loglik_one(&p, &k, x, t_x, T, 1, NULL);
}

/* log of a/(b+x-1) ((α+T)/(α+t_x))^(r+x): the odds of "dropped out after
 * the last purchase" against "still alive". */
static double dropout_log_odds(const px_bgnbd *m, double x, double t_x, double T) {
  return log(m->a / (m->b + x - 1)) + (m->r + x) * log1p((T - t_x) / (m->alpha + t_x));
}

/* 1/(1 + e^lo) without overflowing e^lo. */
static double logistic_neg(double lo) {
  if (lo > 0) {
    double e = exp(-lo);
    return e / (1 + e);
  }
  return 1 / (1 + exp(lo));
}

double px_bgnbd_p_alive(const px_bgnbd *m, double x, double t_x, double T) {
  if (!bgnbd_ok(m) || !customer_ok(x, t_x, T)) return NAN;
  /* Dropping out happens only after a repeat purchase. */
  if (x == 0) return 1;
  return logistic_neg(dropout_log_odds(m, x, t_x, T));
}

/* ---- Expected purchases ----
 * A customer alive now, with x repeat purchases in T, expects
 *   E = C/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x; C; z)]
 * purchases in the next t, with C = a+b+x-1, z = t/(α+T+t) and L =
 * log(1-z) = -log1p(s), s = t/(α+T) (the new customer is x = 0, T = 0).
 * Two series give it, each with a bound on its rounding error (the
 * absolute sum of what was added shows how much cancelled), so each is
 * used only where it is accurate:
 *
 * Euler's transformation makes the bracket 1 - (1-z)^(a-1) 2F1(P, a-1; C; z)
 * with P = a+b-1-r, whose upper parameters stay small however large x is.
 * Splitting off the k = 0 term and dividing a-1 into the rest removes the
 * apparent pole at a = 1:
 *   E = -C L expm1(u)/u - e^u Σ_{k>=1} (P)_k (a)_{k-1} / ((C+1)_{k-1} k!) z^k
 * with u = (a-1) L. When r > a+b the first terms alternate and cancel.
 *
 * The textbook form split the same way,
 *   E = C/(a-1) [-expm1((r+x) L) - (1-z)^(r+x) Σ_{k>=1} (r+x)_k (b+x)_k / ((C)_k k!) z^k],
 * has terms of one sign however large r is, but cancels for short
 * horizons, large x and near a = 1.
 *
 * GSL's 2F1 serves where z is so near 1 (t beyond 1e5 (α+T)) that the
 * series would take too long. It transforms z to 1-z and converges fast,
 * but declines some parameters and misjudges its own error, so both forms
 * must agree and the result must lie within the bounds any E obeys; else
 * NAN (only for such horizons with very large r, a or x). */

/* How far a series' estimate of E may be off, relative, to be used. */
#define E_REL_TOL 1e-10
/* How closely GSL's two forms must agree: its 2F1 carries errors of
 * about 1e-11, which the bracket's cancellation can magnify. */
#define E_CROSS_TOL 1e-7

static double first_term(double a, double C, double L) {
  double u = (a - 1) * L;
  double phi = u == 0 ? 1 : expm1(u) / u;
  return -C * L * phi;
}

/* sign(v) e^lscale |v| without overflowing or underflowing on the way. */
static double scaled(double v, double lscale) {
  return v == 0 ? 0 : copysign(exp(lscale + log(fabs(v))), v);
}

/* scaled(s, lscale) and scaled(sa, lscale), usually as products with one
 * exp for both: whenever e^lscale and the product are normal numbers. */
static void scaled_pair(double s, double sa, double lscale, double *sum, double *abs) {
  double f = exp(lscale);
  int ok = isnormal(f);
  *sum = ok && isnormal(s * f) ? s * f : scaled(s, lscale);
  *abs = ok && isnormal(sa * f) ? sa * f : scaled(sa, lscale);
}

/* Horizons evaluated together (a year of months fits). */
#define E_BATCH 16

/* One step of a hypergeometric tail e^ls Σ_{k>=1} t_k being summed: the
 * next term, ratio times the last, added to the sum s and its absolute
 * value to sa, all kept scaled so that neither a tiny e^ls nor huge terms
 * leave the range of a double; 1 once the rest is below rounding. */
static inline int series_step(double *term, double *s, double *sa, double *ls, double ratio) {
  *term *= ratio;
  *s += *term;
  *sa += fabs(*term);
  if (*sa > 1e200) {
    *s *= 1e-200;
    *sa *= 1e-200;
    *term *= 1e-200;
    *ls += 200 * M_LN10;
  }
  /* Past the largest term the rest is about a geometric tail, |term| rho
   * / (1 - rho) (compared without dividing: a division costs as much as
   * the rest of a term). */
  double rho = fabs(ratio);
  return *term == 0 || (rho < 1 && fabs(*term) * rho <= 0.5 * DBL_EPSILON * fabs(*s) * (1 - rho));
}

/* n <= E_BATCH series at once: series j has t_1 = t1[j] and t_{k+1}/t_k =
 * (p1+k)(p2+k)/((q+k)(k+1)) z[j] (q > -1), scaled by e^lscale[j]; its sum
 * goes to sum[j], the same over |t_k| to abs[j], and ok[j] is 0 when it
 * did not settle in SERIES_MAX_TERMS. The ratio's coefficient does not
 * depend on z, so one division per k serves every horizon (a CLV's
 * months); each series takes the same steps, to the bit, as it would
 * alone. */
static void hyp_tails(double p1, double p2, double q, size_t n, const double *z, const double *t1,
                      const double *lscale, double *sum, double *abs, int *ok) {
  double term[E_BATCH], s[E_BATCH], sa[E_BATCH], ls[E_BATCH];
  size_t live[E_BATCH], nlive = n; /* the series not yet settled */
  for (size_t j = 0; j < n; j++) {
    term[j] = s[j] = t1[j];
    sa[j] = fabs(t1[j]);
    ls[j] = lscale[j];
    ok[j] = 0;
    live[j] = j;
  }
  for (long k = 1; k <= SERIES_MAX_TERMS && nlive > 0; k++) {
    double c = (p1 + k) * (p2 + k) / ((q + k) * (k + 1));
    for (size_t i = 0; i < nlive;) {
      size_t j = live[i];
      if (!series_step(&term[j], &s[j], &sa[j], &ls[j], c * z[j])) {
        i++;
        continue;
      }
      scaled_pair(s[j], sa[j], ls[j], &sum[j], &abs[j]);
      ok[j] = 1;
      live[i] = live[--nlive];
    }
  }
}

/* One series (see hyp_tails); 0 when it did not settle. */
static int hyp_tail(double t1, double p1, double p2, double q, double z, double lscale,
                    double *sum, double *abs) {
  double term = t1, s = t1, sa = fabs(t1);
  for (long k = 1; k <= SERIES_MAX_TERMS; k++) {
    if (!series_step(&term, &s, &sa, &lscale, (p1 + k) * (p2 + k) / ((q + k) * (k + 1)) * z)) continue;
    scaled_pair(s, sa, lscale, sum, abs);
    return 1;
  }
  return 0;
}

/* E by Euler's form at n <= E_BATCH horizons s[j] > 0 into e[j], ok[j] 0
 * where the series did not settle. */
static void e_euler(double r, double a, double b, double x, size_t n, const double *s,
                    gsl_sf_result *e, int *ok) {
  double C = a + b + x - 1, P = a + b - 1 - r, L[E_BATCH], z[E_BATCH], t1[E_BATCH], ls[E_BATCH];
  double tail[E_BATCH], abs[E_BATCH];
  for (size_t j = 0; j < n; j++) {
    L[j] = -log1p(s[j]);
    z[j] = s[j] / (1 + s[j]);
    t1[j] = P * z[j];
    ls[j] = (a - 1) * L[j];
  }
  if (n == 1) ok[0] = hyp_tail(t1[0], P, a - 1, C, z[0], ls[0], &tail[0], &abs[0]);
  else hyp_tails(P, a - 1, C, n, z, t1, ls, tail, abs, ok);
  for (size_t j = 0; j < n; j++) {
    if (!ok[j]) continue;
    double first = first_term(a, C, L[j]);
    e[j].val = first - tail[j];
    e[j].err = 4 * DBL_EPSILON * (fabs(first) + abs[j]);
  }
}

static int e_textbook(double r, double a, double b, double x, double s, gsl_sf_result *e) {
  double A = r + x, B = b + x, C = a + b + x - 1, L = -log1p(s), z = s / (1 + s), tail, abs;
  if (a == 1 || !hyp_tail(A * B * z / C, A, B, C, z, A * L, &tail, &abs)) return 0;
  double head = -expm1(A * L), factor = C / (a - 1);
  e->val = factor * (head - tail);
  e->err = fabs(factor) * 4 * DBL_EPSILON * (head + abs);
  return 1;
}

/* 1 - e^lpre 2F1(A, B; C; z) from GSL. */
static int gsl_bracket(double A, double B, double C, double z, double lpre, double *out) {
  gsl_sf_result F;
  if (gsl_sf_hyperg_2F1_e(A, B, C, z, &F) != GSL_SUCCESS || !isfinite(F.val)) return 0;
  *out = F.val > 0 ? -expm1(lpre + log(F.val)) : 1 - exp(lpre) * F.val;
  return 1;
}

/* E from GSL's 2F1 at one a (not 1). Its error estimate is no guide here
 * (it has claimed 1e-16 for values off by 1e30, and 100% for good ones),
 * so both forms are evaluated, by different routes inside GSL, and must
 * agree. */
static int e_gsl_at(double r, double a, double b, double x, double s, double *e) {
  double C = a + b + x - 1, z = s / (1 + s), L = -log1p(s), euler, textbook;
  if (!gsl_bracket(a + b - 1 - r, a - 1, C, z, (a - 1) * L, &euler) ||
      !gsl_bracket(r + x, b + x, C, z, (r + x) * L, &textbook) ||
      !(fabs(euler - textbook) <= E_CROSS_TOL * fabs(euler)))
    return 0;
  *e = C / (a - 1) * euler;
  return 1;
}

/* E from GSL's 2F1. C/(a-1) times the bracket is 0/0 at a = 1 but smooth
 * in a, so near 1 interpolate between a = 1 - h and 1 + h (h trades the
 * interpolation's error against the cancellation's: about 1e-7 each). */
static int e_gsl(double r, double a, double b, double x, double s, double *e) {
  const double h = 1e-4;
  gsl_quiet();
  if (fabs(a - 1) >= h) return e_gsl_at(r, a, b, x, s, e);
  double lo, hi;
  if (!e_gsl_at(r, 1 - h, b, x, s, &lo) || !e_gsl_at(r, 1 + h, b, x, s, &hi)) return 0;
  *e = lo + (a - (1 - h)) / (2 * h) * (hi - lo);
  return 1;
}

/* Whether e is a possible E: positive, below the (r+x) s the customer
 * would buy without ever dropping out, and below the C/(a-1) = E[1/p] an
 * endless horizon would bring when a > 1. */
static int e_possible(double r, double a, double b, double x, double s, double e) {
  const double slack = 1 + 1e-9;
  return e > 0 && e <= (r + x) * s * slack && (a <= 1 || e <= (a + b + x - 1) / (a - 1) * slack);
}

static double rel_err(const gsl_sf_result *e) {
  return e->err == 0 ? 0 : e->err / fabs(e->val);
}

/* E where Euler's form did not serve: the textbook form (when series, s
 * is within the series' reach), then GSL's 2F1; NAN when no way is sure
 * of it. */
static double e_other(const px_bgnbd *m, double x, double s, int series) {
  double a = m->a, b = m->b, r = m->r, g;
  gsl_sf_result e;
  if (series && e_textbook(r, a, b, x, s, &e) && rel_err(&e) <= E_REL_TOL) return fmax(e.val, 0);
  if (e_gsl(r, a, b, x, s, &g) && e_possible(r, a, b, x, s, g)) return g;
  return NAN;
}

/* E for an alive customer with x repeat purchases at n <= E_BATCH
 * horizons s[j] = t/(α+T) into out[j]; NAN where no way is sure of it. */
static void e_alive(const px_bgnbd *m, double x, size_t n, const double *s, double *out) {
  size_t at[E_BATCH], k = 0; /* the horizons for Euler's series */
  double ss[E_BATCH];
  for (size_t j = 0; j < n; j++) {
    if (s[j] == 0) out[j] = 0;
    else if (s[j] <= SERIES_MAX_S) at[k] = j, ss[k++] = s[j];
    else out[j] = e_other(m, x, s[j], 0);
  }
  gsl_sf_result e[E_BATCH];
  int ok[E_BATCH];
  if (k > 0) e_euler(m->r, m->a, m->b, x, k, ss, e, ok);
  for (size_t i = 0; i < k; i++)
    out[at[i]] = ok[i] && rel_err(&e[i]) <= E_REL_TOL ? fmax(e[i].val, 0) : e_other(m, x, ss[i], 1);
}

void px_bgnbd_expected_many(const px_bgnbd *m, double x, double t_x, double T, const double *t,
                            size_t n, double *out) {
  if (!out || (n && !t)) return;
  int valid = bgnbd_ok(m) && customer_ok(x, t_x, T);
  double p = valid ? px_bgnbd_p_alive(m, x, t_x, T) : NAN;
  for (size_t j0 = 0; j0 < n; j0 += E_BATCH) {
    size_t at[E_BATCH], k = 0, end = n - j0 < E_BATCH ? n : j0 + E_BATCH;
    double s[E_BATCH], e[E_BATCH];
    for (size_t j = j0; j < end; j++) {
      if (!valid || !isfinite(t[j]) || t[j] < 0) out[j] = NAN;
      else at[k] = j, s[k++] = t[j] / (m->alpha + T);
    }
    e_alive(m, x, k, s, e);
    for (size_t i = 0; i < k; i++) out[at[i]] = p * e[i];
  }
}

double px_bgnbd_expected(const px_bgnbd *m, double x, double t_x, double T, double t) {
  double e;
  px_bgnbd_expected_many(m, x, t_x, T, &t, 1, &e);
  return e;
}

double px_bgnbd_expected_new(const px_bgnbd *m, double t) {
  if (!bgnbd_ok(m) || !isfinite(t) || t < 0) return NAN;
  double s = t / m->alpha, e;
  e_alive(m, 0, 1, &s, &e);
  return e;
}

/* ---- Minimising a mean negative log-likelihood over log-parameters ---- */

/* Writes f and, when df is not NULL, its gradient. */
typedef void (*eval_fn)(const gsl_vector *v, void *arg, double *f, gsl_vector *df);

#define DIM_MAX 4

/* GSL's BFGS often asks for f and then for the gradient at the same point
 * (its line search), so while it runs (with_grad) f is evaluated with the
 * gradient, and the last point's are kept: about a third fewer passes over
 * the customers. f is the same number with or without the gradient. */
typedef struct problem {
  eval_fn eval;
  void *arg;
  size_t dim;
  int with_grad, cached;
  double at[DIM_MAX], f, g[DIM_MAX]; /* the last point evaluated with its gradient */
} problem;

static void eval_at(problem *p, const gsl_vector *v, double *f, gsl_vector *df) {
  int hit = p->cached;
  for (size_t i = 0; hit && i < p->dim; i++) hit = gsl_vector_get(v, i) == p->at[i];
  if (!hit && !df && !p->with_grad) {
    p->eval(v, p->arg, f, NULL);
    return;
  }
  if (!hit) {
    gsl_vector_view g = gsl_vector_view_array(p->g, p->dim);
    p->eval(v, p->arg, &p->f, &g.vector);
    for (size_t i = 0; i < p->dim; i++) p->at[i] = gsl_vector_get(v, i);
    p->cached = 1;
  }
  *f = p->f;
  for (size_t i = 0; df && i < p->dim; i++) gsl_vector_set(df, i, p->g[i]);
}

static double fn_f(const gsl_vector *v, void *arg) {
  double f;
  eval_at(arg, v, &f, NULL);
  return f;
}

static void fn_df(const gsl_vector *v, void *arg, gsl_vector *df) {
  double f;
  eval_at(arg, v, &f, df);
}

static void fn_fdf(const gsl_vector *v, void *arg, double *f, gsl_vector *df) {
  eval_at(arg, v, f, df);
}

/* Exponentiates v into th; 0 when a log-parameter is outside the model. */
static int params_of(const gsl_vector *v, double *th) {
  for (size_t i = 0; i < v->size; i++) {
    double lv = gsl_vector_get(v, i);
    if (!(fabs(lv) <= LOG_PARAM_MAX)) return 0;
    th[i] = exp(lv);
  }
  return 1;
}

/* The objective outside the model: high, flat. */
static void far_away(double *f, gsl_vector *df) {
  *f = FAR_AWAY;
  if (df) gsl_vector_set_zero(df);
}

/* Sets f and df from the summed log-likelihood and gradient of n
 * customers, or far_away() when the sum is not finite. */
static void set_mean(double ll, const double *g, size_t dim, size_t n, double *f, gsl_vector *df) {
  int ok = isfinite(ll);
  for (size_t i = 0; df && i < dim; i++) ok = ok && isfinite(g[i]);
  if (!ok) {
    far_away(f, df);
    return;
  }
  *f = -ll / (double)n;
  for (size_t i = 0; df && i < dim; i++) gsl_vector_set(df, i, -g[i] / (double)n);
}

/* BFGS from v until the gradient is below tol, leaving v at the best point
 * it found; -1 when out of memory. */
static int run_bfgs(problem *p, gsl_vector *v, double tol) {
  gsl_multimin_function_fdf fn = {fn_f, fn_df, fn_fdf, p->dim, p};
  gsl_multimin_fdfminimizer *s =
      gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, p->dim);
  if (!s) return -1;
  p->with_grad = 1;
  /* First step 0.1 in log-parameters; line-search tolerance 0.1 as GSL
   * recommends for BFGS. */
  if (gsl_multimin_fdfminimizer_set(s, &fn, v, 0.1, 0.1) == GSL_SUCCESS) {
    for (int it = 0; it < BFGS_MAX_ITER; it++)
      if (gsl_multimin_test_gradient(s->gradient, tol) == GSL_SUCCESS ||
          gsl_multimin_fdfminimizer_iterate(s) != GSL_SUCCESS)
        break;
    if (s->f < FAR_AWAY) gsl_vector_memcpy(v, s->x);
  }
  p->with_grad = 0;
  gsl_multimin_fdfminimizer_free(s);
  return 0;
}

/* f at v, and its gradient into g. */
static double grad_at(problem *p, const gsl_vector *v, gsl_vector *g) {
  double f;
  eval_at(p, v, &f, g);
  return f;
}

/* The Hessian at v by central differences of the analytic gradient
 * (w, gp, gm: scratch). */
static void hessian_at(problem *p, const gsl_vector *v, gsl_matrix *H, gsl_vector *w,
                       gsl_vector *gp, gsl_vector *gm) {
  for (size_t j = 0; j < p->dim; j++) {
    gsl_vector_memcpy(w, v);
    gsl_vector_set(w, j, gsl_vector_get(v, j) + HESSIAN_STEP);
    grad_at(p, w, gp);
    gsl_vector_set(w, j, gsl_vector_get(v, j) - HESSIAN_STEP);
    grad_at(p, w, gm);
    for (size_t i = 0; i < p->dim; i++)
      gsl_matrix_set(H, i, j, (gsl_vector_get(gp, i) - gsl_vector_get(gm, i)) / (2 * HESSIAN_STEP));
  }
  for (size_t i = 0; i < p->dim; i++) /* rounding made it a little asymmetric */
    for (size_t j = 0; j < i; j++) {
      double m = (gsl_matrix_get(H, i, j) + gsl_matrix_get(H, j, i)) / 2;
      gsl_matrix_set(H, i, j, m);
      gsl_matrix_set(H, j, i, m);
    }
}

/* Newton steps from v, each kept only when it shrinks the gradient; stops
 * where the Hessian is not positive definite (not near a minimum). Returns
 * the final gradient norm, or -1 when out of memory. */
static double polish_newton(problem *p, gsl_vector *v) {
  size_t d = p->dim;
  gsl_matrix *H = gsl_matrix_alloc(d, d);
  gsl_vector *g = gsl_vector_alloc(d), *gp = gsl_vector_alloc(d), *gm = gsl_vector_alloc(d);
  gsl_vector *w = gsl_vector_alloc(d), *step = gsl_vector_alloc(d);
  double norm = -1;
  if (H && g && gp && gm && w && step) {
    double f = grad_at(p, v, g);
    norm = f < FAR_AWAY ? gsl_blas_dnrm2(g) : INFINITY;
    for (int it = 0; it < NEWTON_MAX_ITER && isfinite(norm) && norm > NEWTON_TOL; it++) {
      hessian_at(p, v, H, w, gp, gm);
      if (gsl_linalg_cholesky_decomp1(H) != GSL_SUCCESS) break;
      gsl_linalg_cholesky_solve(H, g, step);
      gsl_vector_memcpy(w, v);
      gsl_vector_sub(w, step);
      f = grad_at(p, w, gp);
      double next = gsl_blas_dnrm2(gp);
      if (f >= FAR_AWAY || !(next < norm)) break;
      gsl_vector_memcpy(v, w);
      gsl_vector_memcpy(g, gp);
      norm = next;
    }
  }
  gsl_matrix_free(H);
  gsl_vector_free(g);
  gsl_vector_free(gp);
  gsl_vector_free(gm);
  gsl_vector_free(w);
  gsl_vector_free(step);
  return norm;
}

/* The simplex from v, for when BFGS got lost (far from the optimum the
 * likelihood in log-parameters can be very flat); leaves v where it ended.
 * 0, or -1 when out of memory. */
static int run_simplex(problem *p, gsl_vector *v) {
  gsl_multimin_function fn = {fn_f, p->dim, p};
  gsl_multimin_fminimizer *s =
      gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, p->dim);
  gsl_vector *step = gsl_vector_alloc(p->dim);
  int rc = -1;
  if (s && step) {
    gsl_vector_set_all(step, 0.5);
    if (gsl_multimin_fminimizer_set(s, &fn, v, step) == GSL_SUCCESS) {
      for (int it = 0; it < SIMPLEX_MAX_ITER; it++)
        if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS ||
            gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-6) == GSL_SUCCESS)
          break;
      gsl_vector_memcpy(v, s->x);
    }
    rc = 0;
  }
  gsl_vector_free(step);
  gsl_multimin_fminimizer_free(s);
  return rc;
}

static int off_boundary(const gsl_vector *v) {
  for (size_t i = 0; i < v->size; i++)
    if (fabs(gsl_vector_get(v, i)) > LOG_PARAM_BOUNDARY) return 0;
  return 1;
}

/* BFGS then Newton from v: 1 when v ended at an optimum, 0 when not, -1
 * when out of memory. */
static int descend(problem *p, gsl_vector *v) {
  double norm = -1;
  if (run_bfgs(p, v, BFGS_NEAR) < 0 || (norm = polish_newton(p, v)) < 0) return -1;
  if (norm < FIT_TOL) return 1;
  if (run_bfgs(p, v, BFGS_TOL) < 0 || (norm = polish_newton(p, v)) < 0) return -1;
  return norm < FIT_TOL;
}

/* Minimises p from the parameters start[0..dim) into th[0..dim). */
static px_status minimize(problem *p, const double *start, double *th) {
  gsl_quiet();
  gsl_vector *v = gsl_vector_alloc(p->dim);
  if (!v) return PX_NOMEM;
  for (size_t i = 0; i < p->dim; i++) gsl_vector_set(v, i, log(start[i]));
  int ok = descend(p, v);
  if (ok == 0) {
    for (size_t i = 0; i < p->dim; i++) gsl_vector_set(v, i, log(start[i]));
    ok = run_simplex(p, v) < 0 ? -1 : descend(p, v);
  }
  px_status s = ok < 0 ? PX_NOMEM : ok && off_boundary(v) ? PX_OK : PX_NOT_CONVERGED;
  if (s == PX_OK)
    for (size_t i = 0; i < p->dim; i++) th[i] = exp(gsl_vector_get(v, i));
  gsl_vector_free(v);
  return s;
}

/* ---- Customers grouped ----
 * A log-likelihood is a sum over customers of a term that depends on a few
 * of each customer's numbers: BG/NBD's on (x, t_x, T), Gamma-Gamma's on
 * (x, m). Summaries in whole days repeat them a lot (1,000,000 simulated
 * customers over 39 weeks, in weeks, have about 106,000 distinct (x, t_x,
 * T)), so a fit evaluates each distinct key once, weighted by how many
 * customers have it. Within a key, the terms that depend on x alone
 * (log-gammas, digammas) are the expensive ones: they are computed once
 * per distinct x per evaluation. */

typedef struct groups {
  size_t n;          /* distinct keys */
  double *x, *u, *v; /* the keys: (x, t_x, T), or (x, m, 0) */
  double *w;         /* how many customers have each */
  size_t *xi;        /* per key, the index of its x in xs */
  double *xs;        /* the distinct x values, in order of appearance */
  size_t nx;
} groups;

static uint64_t bits_of(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

/* A 64-bit finalizer (splitmix64's): every input bit moves every output bit. */
static uint64_t mix64(uint64_t h) {
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

/* Customers with x > 0 and m > 0: those the spend model learns from. */
static int gg_used(const px_btyd_customer *c) { return c->x > 0 && c->m > 0; }

/* Open-addressing tables of cap (a power of two) slots, each an index + 1
 * (0: empty): of a key in g->x, u, v, or (by_x) of an x value in g->xs.
 * Returns the slot holding the one equal to (x, u, v) (by_x: to x), or the
 * empty slot where it belongs; h is its hash. */
static size_t *probe(size_t *slot, size_t cap, uint64_t h, const groups *g, double x, double u,
                     double v, int by_x) {
  for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
    size_t k = slot[i];
    if (k == 0) return &slot[i];
    if (by_x ? g->xs[k - 1] == x : g->x[k - 1] == x && g->u[k - 1] == u && g->v[k - 1] == v)
      return &slot[i];
  }
}

/* Groups the customers by (x, t_x, T), or by (x, m) for spend (then only
 * those gg_used() accepts, at least one), keys and x values in order of
 * first appearance. */
static px_status groups_init(groups *g, const px_btyd_customer *c, size_t n, int spend) {
  size_t m = 0, cap = 2;
  for (size_t i = 0; i < n; i++) m += !spend || gg_used(&c[i]);
  while (cap < 2 * m) cap *= 2;
  size_t *keys = calloc(cap, sizeof *keys), *xkeys = calloc(cap, sizeof *xkeys);
  g->x = malloc(m * sizeof *g->x);
  g->u = malloc(m * sizeof *g->u);
  g->v = malloc(m * sizeof *g->v);
  g->w = malloc(m * sizeof *g->w);
  g->xi = malloc(m * sizeof *g->xi);
  g->xs = malloc(m * sizeof *g->xs);
  px_status s = PX_NOMEM;
  if (!keys || !xkeys || !g->x || !g->u || !g->v || !g->w || !g->xi || !g->xs) goto out;
  for (size_t i = 0; i < n; i++) {
    if (spend && !gg_used(&c[i])) continue;
    double x = c[i].x, u = spend ? c[i].m : c[i].t_x, v = spend ? 0 : c[i].T;
    uint64_t hx = mix64(bits_of(x));
    size_t *k = probe(keys, cap, mix64(mix64(hx ^ bits_of(u)) ^ bits_of(v)), g, x, u, v, 0);
    if (*k) {
      g->w[*k - 1]++;
      continue;
    }
    size_t *kx = probe(xkeys, cap, hx, g, x, 0, 0, 1);
    if (!*kx) {
      g->xs[g->nx] = x;
      *kx = ++g->nx;
    }
    g->x[g->n] = x, g->u[g->n] = u, g->v[g->n] = v, g->w[g->n] = 1, g->xi[g->n] = *kx - 1;
    *k = ++g->n;
  }
  s = PX_OK;
out:
  free(keys);
  free(xkeys);
  return s;
}

static void groups_free(groups *g) {
  free(g->x);
  free(g->u);
  free(g->v);
  free(g->w);
  free(g->xi);
  free(g->xs);
}

/* ---- Sums over many keys on two threads ----
 * The keys are split in two halves, the second summed on a thread of its
 * own when there are enough of them to pay for starting it. The halves are
 * the same whether or not the thread could start, so the result is too. */

/* Below this many keys one thread sums them all (a thread costs tens of
 * microseconds; a key about 20-50 nanoseconds). */
#define PARALLEL_MIN 20000
#define SUM_MAX 5

/* Adds the sums over keys [lo, hi) to acc[0..SUM_MAX). */
typedef void (*range_fn)(const void *arg, size_t lo, size_t hi, double *acc);

typedef struct half {
  range_fn f;
  const void *arg;
  size_t lo, hi;
  double acc[SUM_MAX];
} half;

static void *half_run(void *p) {
  half *h = p;
  h->f(h->arg, h->lo, h->hi, h->acc);
  return NULL;
}

/* acc[0..k) = the sums over keys [0, n). */
static void sum_keys(range_fn f, const void *arg, size_t n, size_t k, double *acc) {
  for (size_t i = 0; i < k; i++) acc[i] = 0;
  if (n < PARALLEL_MIN) {
    f(arg, 0, n, acc);
    return;
  }
  half h = {f, arg, n / 2, n, {0}};
  pthread_t t;
  int threaded = pthread_create(&t, NULL, half_run, &h) == 0;
  f(arg, 0, n / 2, acc);
  if (threaded) pthread_join(t, NULL);
  else half_run(&h);
  for (size_t i = 0; i < k; i++) acc[i] += h.acc[i];
}

/* ---- BG/NBD fit ---- */

typedef struct bg_fit {
  size_t n; /* customers */
  groups g; /* by (x, t_x, T) */
  xterms *k; /* per distinct x, at the parameters being evaluated */
} bg_fit;

typedef struct bg_sum_arg {
  const bg_fit *d;
  const bg_par *p;
  int grad;
} bg_sum_arg;

/* The log-likelihood into acc[0], its gradient into acc[1..4] (summed in
 * locals: acc may share a cache line with the other thread's). */
static void bg_sum(const void *arg, size_t lo, size_t hi, double *acc) {
  const bg_sum_arg *a = arg;
  const groups *g = &a->d->g;
  double ll = 0, grad[4] = {0};
  for (size_t i = lo; i < hi; i++)
    ll += g->w[i] * bg_loglik_one(a->p, &a->d->k[g->xi[i]], g->x[i], g->u[i], g->v[i], g->w[i],
                                  a->grad ? grad : NULL);
  acc[0] += ll;
  for (int j = 0; j < 4; j++) acc[j + 1] += grad[j];
}

/* The summed log-likelihood at p into acc[0] and, with grad, its gradient
 * into acc[1..4]. */
static void bg_loglik_sum(bg_fit *d, const bg_par *p, int grad, double acc[5]) {
  for (size_t j = 0; j < d->g.nx; j++) xterms_of(p, d->g.xs[j], grad, &d->k[j]);
  bg_sum_arg a = {d, p, grad};
  sum_keys(bg_sum, &a, d->g.n, 5, acc);
}

static void bg_eval(const gsl_vector *v, void *arg, double *f, gsl_vector *df) {
  bg_fit *d = arg;
  double th[4], acc[5];
  if (!params_of(v, th)) {
    far_away(f, df);
    return;
  }
  bg_par p = {th[0], th[1], th[2], th[3], log(th[1])};
  bg_loglik_sum(d, &p, df != NULL, acc);
  set_mean(acc[0], acc + 1, 4, d->n, f, df);
}

/* PX_OK when every customer is valid and at least one came back (without
 * a repeat purchase nobody could drop out, so a and b would be unknown). */
static px_status bg_check(const px_btyd_customer *c, size_t n, double *mean_T) {
  int repeat = 0;
  double sum_T = 0;
  for (size_t i = 0; i < n; i++) {
    if (!customer_ok(c[i].x, c[i].t_x, c[i].T)) return PX_INVALID;
    repeat = repeat || c[i].x > 0;
    sum_T += c[i].T;
  }
  *mean_T = sum_T / (double)n;
  return repeat ? PX_OK : PX_INVALID;
}

px_status px_bgnbd_fit(const px_btyd_customer *c, size_t n, px_bgnbd *out) {
  double mean_T;
  if (!c || !n || !out) return PX_INVALID;
  px_status s = bg_check(c, n, &mean_T);
  if (s != PX_OK) return s;
  bg_fit d = {n, {0}, NULL};
  s = groups_init(&d.g, c, n, 0);
  if (s == PX_OK && !(d.k = malloc(d.g.nx * sizeof *d.k))) s = PX_NOMEM;
  /* alpha carries the time unit: start it at the typical T. */
  double th[4], start[4] = {1, mean_T > 0 ? mean_T : 1, 1, 1};
  problem p = {bg_eval, &d, 4, 0, 0, {0}, 0, {0}};
  if (s == PX_OK) s = minimize(&p, start, th);
  if (s == PX_OK) {
    px_bgnbd m = {th[0], th[1], th[2], th[3], 0};
    bg_par bp = bg_par_of(&m);
    double acc[5];
    bg_loglik_sum(&d, &bp, 0, acc);
    m.loglik = acc[0];
    *out = m;
  }
  groups_free(&d.g);
  free(d.k);
  return s;
}

/* ---- Gamma-Gamma ----
 * A customer with x > 0 purchases of mean spend m contributes
 *   log Γ(px+q) - log Γ(px) - log Γ(q) + q log γ + px log x
 *     + (px-1) log m - (px+q) log(γ + x m),
 * the density of the mean of x Gamma(p, ν) spends with ν ~ Gamma(q, γ);
 * the logs are regrouped as log1p's of x m/γ and γ/(x m), the second from
 * the first as log1p(γ/(x m)) = log1p(x m/γ) - log(x m/γ). */

/* The x-only terms: log[Γ(px+q)/Γ(px)] and the digamma differences of
 * the derivatives in p and q. */
typedef struct gg_xterms {
  double k0, dp, dq;
} gg_xterms;

static void gg_xterms_of(const double th[3], double x, int grad, double psi_q, gg_xterms *k) {
  double px = th[0] * x, q = th[1];
  k->k0 = gsl_sf_lnpoch(px, q);
  if (!grad) return;
  double d = gsl_sf_psi(px + q);
  k->dp = d - gsl_sf_psi(px);
  k->dq = d - psi_q;
}

typedef struct gg_fit {
  size_t used;      /* customers with x > 0 and m > 0 */
  double sum_log_m; /* over them */
  groups g;         /* them by (x, m) */
  double *lxm;      /* per key, log(x m) */
  gg_xterms *k;
} gg_fit;

typedef struct gg_sum_arg {
  const gg_fit *d;
  const double *th;
  double lg, inv_g; /* log γ, 1/γ */
  int grad;
} gg_sum_arg;

/* The customers' log-likelihood but for -log Γ(q) - log m (the same for
 * all, added by the caller) into acc[0], the log-parameter derivatives into
 * acc[1..3]. */
static void gg_sum(const void *arg, size_t lo, size_t hi, double *acc) {
  const gg_sum_arg *a = arg;
  const groups *g = &a->d->g;
  double p = a->th[0], q = a->th[1], ll = 0, g0 = 0, g1 = 0, g2 = 0;
  for (size_t i = lo; i < hi; i++) {
    const gg_xterms *k = &a->d->k[g->xi[i]];
    double w = g->w[i], px = p * g->x[i], u = g->x[i] * g->u[i] * a->inv_g;
    /* log(1+u) rather than log1p(u): off by at most an ulp of 1 when u is
     * tiny, as the subtraction below and the sum with k0 round anyway. */
    double lq = log(1 + u), lp = lq - (a->d->lxm[i] - a->lg);
    ll += w * (k->k0 - q * lq - px * lp);
    if (a->grad) {
      g0 += w * px * (k->dp - lp);
      g1 += w * q * (k->dq - lq);
      g2 += w * (q - (px + q) / (1 + u));
    }
  }
  acc[0] += ll, acc[1] += g0, acc[2] += g1, acc[3] += g2;
}

static double gg_loglik(gg_fit *d, const double th[3], double g[3]) {
  double psi_q = g ? gsl_sf_psi(th[1]) : 0, acc[4];
  for (size_t j = 0; j < d->g.nx; j++) gg_xterms_of(th, d->g.xs[j], g != NULL, psi_q, &d->k[j]);
  gg_sum_arg a = {d, th, log(th[2]), 1 / th[2], g != NULL};
  sum_keys(gg_sum, &a, d->g.n, 4, acc);
  for (int i = 0; g && i < 3; i++) g[i] = acc[i + 1];
  return acc[0] - (double)d->used * gsl_sf_lngamma(th[1]) - d->sum_log_m;
}

static void gg_eval(const gsl_vector *v, void *arg, double *f, gsl_vector *df) {
  gg_fit *d = arg;
  double th[3], g[3] = {0};
  if (!params_of(v, th)) {
    far_away(f, df);
    return;
  }
  double ll = gg_loglik(d, th, df ? g : NULL);
  set_mean(ll, g, 3, d->used, f, df);
}

/* Counts the used customers and sums their spends; PX_INVALID when a
 * customer is invalid or none has repeat purchases with a spend. */
static px_status gg_check(const px_btyd_customer *c, size_t n, gg_fit *d, double *sum_m) {
  *sum_m = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(c[i].x) || c[i].x < 0 || !isfinite(c[i].m) || c[i].m < 0) return PX_INVALID;
    if (!gg_used(&c[i])) continue;
    d->used++;
    *sum_m += c[i].m;
    d->sum_log_m += log(c[i].m);
  }
  return d->used ? PX_OK : PX_INVALID;
}

px_status px_gamma_gamma_fit(const px_btyd_customer *c, size_t n, px_gamma_gamma *out) {
  if (!c || !n || !out) return PX_INVALID;
  gg_fit d = {0, 0, {0}, NULL, NULL};
  double sum_m;
  px_status s = gg_check(c, n, &d, &sum_m);
  if (s != PX_OK) return s;
  s = groups_init(&d.g, c, n, 1);
  if (s == PX_OK && (!(d.k = malloc(d.g.nx * sizeof *d.k)) ||
                     !(d.lxm = malloc(d.g.n * sizeof *d.lxm))))
    s = PX_NOMEM;
  for (size_t i = 0; s == PX_OK && i < d.g.n; i++) d.lxm[i] = log(d.g.x[i] * d.g.u[i]);
  /* Start where the population mean p γ/(q-1) is the sample's mean spend. */
  double th[3], start[3] = {1, 2, sum_m / (double)d.used};
  problem p = {gg_eval, &d, 3, 0, 0, {0}, 0, {0}};
  if (s == PX_OK) s = minimize(&p, start, th);
  if (s == PX_OK) *out = (px_gamma_gamma){th[0], th[1], th[2], gg_loglik(&d, th, NULL)};
  groups_free(&d.g);
  free(d.lxm);
  free(d.k);
  return s;
}

double px_gamma_gamma_expected_spend(const px_gamma_gamma *g, double x, double mean) {
  if (!g || !positive(g->p) || !positive(g->q) || !positive(g->gamma) || !isfinite(x) || x < 0 ||
      !isfinite(mean) || mean < 0)
    return NAN;
  /* The posterior mean of p/ν: a weighted average of the population mean
   * p γ/(q-1) and the customer's own mean, infinite when the posterior of
   * ν leaves its mean undefined. */
  double den = g->p * x + g->q - 1;
  if (den <= 0) return INFINITY;
  return g->p * (g->gamma + mean * x) / den;
}
