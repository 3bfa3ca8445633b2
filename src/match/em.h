/* Fellegi-Sunter parameters learned without labels: expectation
 * maximization over comparison vectors (one comparison level per field,
 * match/levels.h), assuming fields independent given match status. m[f][l]:
 * the chance a matching pair has level l on field f; u[f][l]: the same for
 * a non-matching pair; lambda: the share of compared pairs that match.
 * Level 0 (a value missing) carries no evidence and is left out of both.
 * See docs/internals/match.md. */
#ifndef PX_MATCH_EM_H
#define PX_MATCH_EM_H

#include <stddef.h>

#define PX_EM_MAX_FIELDS 32
#define PX_EM_MAX_LEVELS 8

typedef struct px_em_model {
  int nfields;
  int nlevels[PX_EM_MAX_FIELDS]; /* levels per field, level 0 included */
  double m[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS];
  double u[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS];
  double lambda;
} px_em_model;

/* A starting point: exact (level 1) likely for matches, unlikely otherwise,
 * closer levels in between; lambda as given. */
void px_em_init(px_em_model *mdl, int nfields, const int *nlevels, double lambda);

/* Fits the model to n vectors (n x nfields levels, row by row), from its
 * current values, until the log-likelihood gains less than tol or after
 * max_iter rounds. Returns the rounds run; *loglik (may be NULL) gets the
 * final log-likelihood. */
int px_em_fit(px_em_model *mdl, const unsigned char *vectors, size_t n, int max_iter, double tol, double *loglik);

/* The same with a count per vector (counts[i] copies of vector i; NULL:
 * one each), so EM can run over the distinct vectors of millions of pairs. */
int px_em_fit_counts(px_em_model *mdl, const unsigned char *vectors, const double *counts, size_t n, int max_iter,
                     double tol, double *loglik);

/* The match weight of a vector: the sum over fields of log2(m / u) of its
 * levels (missing values add nothing). Also per field into parts (may be
 * NULL), for explanations. */
double px_em_weight(const px_em_model *mdl, const unsigned char *vector, double *parts);

/* The probability that a pair with this vector is a match. */
double px_em_probability(const px_em_model *mdl, const unsigned char *vector);

#endif
