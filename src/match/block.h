/* Blocking: which record pairs are worth comparing. A rule names fields
 * (optionally only their first characters); records with the same key under
 * a rule become candidate pairs, and the rules are OR-ed, so work grows with
 * the block sizes rather than with n squared. See docs/internals/match.md. */
#ifndef PX_MATCH_BLOCK_H
#define PX_MATCH_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define PX_BLOCK_MAX_PARTS 4

typedef struct px_block_rule {
  int field[PX_BLOCK_MAX_PARTS];  /* indices into a record's values */
  int prefix[PX_BLOCK_MAX_PARTS]; /* bytes of the value used; 0: all */
  int nparts;
} px_block_rule;

typedef struct px_block_pairs {
  uint32_t *a, *b;       /* pair i is (a[i], b[i]), a[i] < b[i], sorted, no repeats */
  size_t n;
  size_t skipped_blocks; /* blocks over the size limit, left out (a key too common to say anything) */
} px_block_pairs;

/* values: n records of nfields NUL-terminated (standardized) values, row by
 * row. A record with an empty part under a rule is not blocked by it. */
px_status px_block(const char *const *values, size_t n, int nfields, const px_block_rule *rules, int nrules,
                   size_t max_block, px_block_pairs *out);
void px_block_free(px_block_pairs *p);

#endif
