/* Buy-till-you-die models of customer value (issue 5): the BG/NBD model of
 * repeat purchases (Fader, Hardie & Lee 2005) and the Gamma-Gamma model of
 * spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"), fitted by
 * maximum likelihood with GSL. A pure library over per-customer summaries
 * (summary.h builds them from purchases); depends on base only.
 *
 * The per-customer functions return NAN for invalid input (parameters not
 * finite and positive, or a customer the fits would reject). For valid
 * input they return a number, except that the expectations may be NAN for
 * horizons t beyond 1e5 (alpha + T) with very large r, a or x, where no
 * method could be verified (rather than a wrong number). The library
 * checks every GSL status itself, so it switches GSL's abort-on-error
 * handler off (process-wide) the first time it needs GSL. Thread-safe: no
 * state but that.
 *
 * Cost. The fits evaluate the likelihood once per distinct (x, t_x, T)
 * (BG/NBD) or (x, m) (Gamma-Gamma), weighted by how many customers share
 * it: summaries in whole days repeat them a lot. Above 20,000 distinct
 * ones each evaluation sums two halves, the second on a thread of its own
 * (started and joined per evaluation; the result is the same whether or
 * not it could start). 1,000,000 simulated customers (CDNOW-like, in weeks,
 * about 106,000 distinct) fit in about 0.25 s (BG/NBD) + 0.45 s
 * (Gamma-Gamma) on 2 cores; px_bgnbd_expected takes about 0.15 us for a
 * 90-day horizon (a sum of about 20 terms, more for longer horizons); see
 * docs/BENCHMARKS.md. */
#ifndef PX_CLV_BTYD_H
#define PX_CLV_BTYD_H

#include <stddef.h>

#include "base/status.h"

/* One customer over a calibration period, in a time unit (days, weeks):
 * x repeat purchases (purchase days after the first; a whole number), t_x
 * the time of the last one since the first purchase (0 when x == 0), T the
 * time from the first purchase to the end of the period, m the mean spend
 * of the repeat purchases (0 when x == 0). */
typedef struct px_btyd_customer {
  double x, t_x, T, m;
} px_btyd_customer;

typedef struct px_bgnbd {
  double r, alpha, a, b;
  double loglik; /* the sample's log-likelihood at these parameters */
} px_bgnbd;

typedef struct px_gamma_gamma {
  double p, q, gamma;
  double loglik; /* over the customers with x > 0 */
} px_gamma_gamma;

/* Maximum-likelihood BG/NBD parameters of n customers (n > 0, every
 * x, t_x, T finite with 0 <= t_x <= T, x >= 0 whole, and at least one
 * x > 0, without which nobody could have dropped out; PX_INVALID
 * otherwise). PX_NOT_CONVERGED when there is no interior optimum (e.g.
 * identical customers) or the minimizer does not reach it; out is written
 * only on PX_OK. */
px_status px_bgnbd_fit(const px_btyd_customer *c, size_t n, px_bgnbd *out);
/* One customer's log-likelihood at m's parameters (a density in the
 * purchase times, so it may be positive). */
double px_bgnbd_loglik(const px_bgnbd *m, double x, double t_x, double T);
/* The probability that the customer is still alive at T: 1 when x == 0
 * (customers drop out only right after a repeat purchase). */
double px_bgnbd_p_alive(const px_bgnbd *m, double x, double t_x, double T);
/* Expected repeat purchases in the next t >= 0 units, given x, t_x, T. */
double px_bgnbd_expected(const px_bgnbd *m, double x, double t_x, double T, double t);
/* px_bgnbd_expected at each of the n horizons t[0..n) into out[0..n) (NAN
 * where it would be NAN), the same numbers to the bit; cheaper than n
 * calls (a year of monthly horizons in about two thirds of the time):
 * P(alive) is computed once and the series of up to 16 horizons share
 * their coefficients. t and out hold n numbers; nothing is written when out
 * is NULL. */
void px_bgnbd_expected_many(const px_bgnbd *m, double x, double t_x, double T, const double *t,
                            size_t n, double *out);
/* Expected repeat purchases of a new customer in t units, E[X(t)]. */
double px_bgnbd_expected_new(const px_bgnbd *m, double t);

/* Maximum-likelihood Gamma-Gamma parameters over the customers with
 * x > 0 and m > 0 (PX_INVALID when there are none, or when any x or m is
 * negative or not finite; PX_NOT_CONVERGED as for BG/NBD). */
px_status px_gamma_gamma_fit(const px_btyd_customer *c, size_t n, px_gamma_gamma *out);
/* The conditional expected average spend of a customer with x repeat
 * purchases of mean spend mean (the population mean p*gamma/(q-1) when
 * x == 0); INFINITY when p*x + q <= 1 leaves it undefined. */
double px_gamma_gamma_expected_spend(const px_gamma_gamma *g, double x, double mean);

#endif
