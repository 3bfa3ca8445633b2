/* Record linkage end to end: standardize each record's fields, pick
 * candidate pairs by blocking, compare them field by field, learn m and u
 * (EM over the compared pairs; u also from randomly sampled pairs, which
 * are almost all non-matches), weigh every pair, keep those at or above
 * the threshold and cluster them under the size guard. Used by `pickaxe
 * resolve` (records from files) and `pickaxe link` (records from stored
 * profiles). See docs/internals/match.md. */
#ifndef PX_MATCH_LINK_H
#define PX_MATCH_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "match/cluster.h"
#include "match/config.h"
#include "match/em.h"

typedef struct px_link_result {
  size_t n;              /* records */
  size_t pairs_compared; /* candidate pairs from blocking */
  size_t skipped_blocks;
  /* The matched pairs (probability >= threshold), strongest first. */
  uint32_t *a, *b;       /* records, a < b */
  double *weight;        /* match weight (log2 Bayes factor) */
  double *probability;
  unsigned char *vectors; /* npairs x nfields comparison levels */
  unsigned char *joined;  /* 1: the clusterer applied the pair (not refused, not already joined) */
  double *parts;          /* npairs x nfields: each field's part of the weight (term frequencies applied;
                             0 for the members of a changed group); weight[i] is their sum and
                             group_parts' */
  double *group_parts;    /* npairs x model.ngroups: each group's part (see px_em_group_parts) */
  unsigned char *group_levels; /* npairs x model.ngroups: px_em_group_level */
  size_t npairs;
  size_t u_sampled;       /* random pairs compared to estimate u (0 with a given model or u from EM) */
  int em_iterations;      /* 0 with a given model */
  double lambda_candidates; /* share of the compared pairs that match, as EM found it */
  px_em_model model;      /* as learned (or as given) */
  px_clusters clusters;
  double seconds;
} px_link_result;

/* values: n records of cfg->nfields raw values each (NULL or "" for
 * missing), in the configuration's field order, row by row. Standardizes
 * them (a value that does not standardize counts as missing), then runs
 * the whole linkage. PX_INVALID for a configuration without blocking rules
 * or otherwise inconsistent (a field index out of range, too many levels,
 * a model whose levels do not fit the fields). */
px_status px_link_run(const px_match_config *cfg, const char *const *values, size_t n, px_link_result *out);
void px_link_free(px_link_result *r);

/* Why pair i matched: {"weight", "probability", "fields": [{"field",
 * "level", "weight"}]} appended to out, one entry per field with its
 * comparison level's name and its part of the weight, then one per group
 * (its name; level "kept", "changed" or "null"; its part). The parts add up
 * to the weight. */
px_status px_link_explain(const px_match_config *cfg, const px_link_result *r, size_t i, px_buf *out);

/* A group's level for explanations: "null", "kept" or "changed". */
const char *px_link_group_level_name(int level);

#endif
