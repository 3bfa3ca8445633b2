/* Fellegi-Sunter parameters learned without labels: expectation
 * maximization over comparison vectors (one comparison level per field,
 * match/levels.h), assuming fields independent given match status. m[f][l]:
 * the chance a matching pair has level l on field f; u[f][l]: the same for
 * a non-matching pair; lambda: the share of compared pairs that match.
 * Level 0 (a value missing) carries no evidence and is left out of both.
 *
 * Groups of correlated fields (an address: street, suburb, postcode, state)
 * break the independence in one known way: a person who moves changes all
 * of them at once. For a match, a group is "kept" (its members as m says,
 * each independently) or, with chance changed[g], "changed": replaced by
 * someone else's, its members then distributed as for a non-match (u). So
 * P(group | match) = (1 - c) prod m + c prod u, and the group's part of the
 * weight is log2((1 - c) 2^S + c), S the sum of its members' log2(m/u):
 * about S when the group agrees, never below log2(c) when it does not.
 * See docs/internals/match.md. */
#ifndef PX_MATCH_EM_H
#define PX_MATCH_EM_H

#include <stddef.h>

#define PX_EM_MAX_FIELDS 32
#define PX_EM_MAX_LEVELS 8
#define PX_EM_MAX_GROUPS 4
/* Learning never puts a group's chance of changing below this: see
 * docs/internals/match.md ("Correlated fields"). */
#define PX_EM_CHANGED_MIN 0.01

typedef struct px_em_model {
  int nfields;
  int nlevels[PX_EM_MAX_FIELDS]; /* levels per field, level 0 included */
  double m[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS];
  double u[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS];
  double lambda;
  int ngroups;
  unsigned char group[PX_EM_MAX_FIELDS]; /* 0: in no group; g + 1: a member of group g */
  double changed[PX_EM_MAX_GROUPS];      /* chance that a match's group changed as a whole */
} px_em_model;

/* A group's part of a pair's weight, as a level for explanations. */
typedef enum px_em_group_level {
  PX_EM_GROUP_NULL = 0, /* no member has a value on both sides: nothing */
  PX_EM_GROUP_KEPT,     /* the group as kept explains the pair better: its members weigh as usual */
  PX_EM_GROUP_CHANGED,  /* changed explains it better: one part for the group, its members none */
} px_em_group_level;

/* A starting point: exact (level 1) likely for matches, unlikely otherwise,
 * closer levels in between; lambda as given; no groups. */
void px_em_init(px_em_model *mdl, int nfields, const int *nlevels, double lambda);

/* Makes fields member[0..n-1] group g (g == mdl->ngroups: a new one),
 * starting from chance changed; PX_EM_MAX_GROUPS at most, a field in one
 * group at most. Returns 0, or -1 when that does not hold. */
int px_em_group(px_em_model *mdl, const int *member, int n, double changed);

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
 * levels (missing values add nothing), groups weighed as above. Also per
 * field, then per group, into parts (may be NULL; nfields + ngroups
 * entries), for explanations; they add up to the weight. */
double px_em_weight(const px_em_model *mdl, const unsigned char *vector, double *parts);

/* Turns per-field parts (log2(m/u) of each field's level, 0 when missing;
 * nfields entries followed by ngroups to be written) into the parts of the
 * weight with groups: a changed group's members get 0 and the group its
 * whole part; a kept group's members keep theirs and the group gets the
 * difference (log2(1 - c) or a little more). present[f]: field f has a
 * level (not missing). levels (may be NULL) gets each group's
 * px_em_group_level. Returns the weight (the sum of all parts). */
double px_em_group_parts(const px_em_model *mdl, const unsigned char *present, double *parts,
                         unsigned char *levels);

/* The probability that a pair with this vector is a match. */
double px_em_probability(const px_em_model *mdl, const unsigned char *vector);

#endif
