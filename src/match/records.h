/* Records ready for matching: each field's value standardized by its type
 * (px_match_config), kept in one block of text, and the pair comparison
 * that turns two records into a comparison vector (one level per field,
 * with the "swapped" level of fields that may trade values, such as given
 * name and surname). Shared by linkage (link.c) and inference (infer.c).
 * See docs/internals/match.md. */
#ifndef PX_MATCH_RECORDS_H
#define PX_MATCH_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "match/config.h"

/* Standardized values are cut at this many bytes (on a UTF-8 boundary):
 * past it, a value says nothing more about who a record is. */
#define PX_MATCH_VALUE_MAX 255

typedef struct px_match_records {
  size_t n;
  int nfields;
  const char **v;   /* n x nfields values, row by row, "" when missing; point into text */
  uint8_t *len;     /* their lengths */
  char *text;
  /* For fields with term frequencies: how many records hold each record's
   * value (n x nfields, 0 elsewhere), and how many hold any value. */
  uint32_t *count;
  size_t filled[PX_EM_MAX_FIELDS];
} px_match_records;

/* Appends the standardized form of a raw value of field f to out; nothing
 * (out unchanged) when the value is missing or does not standardize. */
void px_match_standardize(const px_match_field *f, const char *in, size_t n, px_buf *out);

/* Standardizes n records of cfg->nfields raw values (NULL or "" missing),
 * row by row. */
px_status px_match_records_build(const px_match_config *cfg, const char *const *raw, size_t n,
                                 px_match_records *out);
void px_match_records_free(px_match_records *r);

/* The comparison vector of records a and b (cfg->nfields levels). */
void px_match_compare(const px_match_config *cfg, const px_match_records *r, size_t a, size_t b,
                      unsigned char *vec);

#endif
