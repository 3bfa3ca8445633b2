/* Comparison levels (Fellegi-Sunter): how alike two values of one field
 * are, as a small integer whose m and u probabilities the model learns.
 * Level 0: a value is missing (the field says nothing). Level 1: exactly
 * equal. Levels 2..: within each threshold in turn, closest first. The
 * last level: different. Values are standardized text (px_std_text); dates
 * are YYYY-MM-DD (px_std_date). See docs/internals/match.md. */
#ifndef PX_MATCH_LEVELS_H
#define PX_MATCH_LEVELS_H

#include <stddef.h>

typedef enum px_cmp_kind {
  PX_CMP_EXACT = 0,        /* equal or not */
  PX_CMP_JARO_WINKLER = 1, /* thresholds: similarities, decreasing (0.92, 0.88) */
  PX_CMP_LEVENSHTEIN = 2,  /* thresholds: edit distances, increasing (1, 2) */
  PX_CMP_DATE = 3,         /* thresholds: days apart, increasing (1, 31, 366) */
  PX_CMP_NUMBER = 4,       /* thresholds: relative differences, increasing (0.01, 0.1) */
} px_cmp_kind;

#define PX_CMP_MAX_THRESHOLDS 4

typedef struct px_cmp_field {
  px_cmp_kind kind;
  double thresholds[PX_CMP_MAX_THRESHOLDS];
  int nthresholds;
} px_cmp_field;

/* How many levels the field has: null, exact, one per threshold, different. */
int px_cmp_levels(const px_cmp_field *f);

/* The level of the pair (a, b); empty means missing. */
int px_cmp_level(const px_cmp_field *f, const char *a, size_t an, const char *b, size_t bn);

/* A level's name for explanations ("null", "exact", "jaro_winkler>=0.92",
 * "levenshtein<=1", "days<=31", "relative_difference<=0.1", "different"). */
const char *px_cmp_level_name(const px_cmp_field *f, int level, char *buf, size_t n);

#endif
