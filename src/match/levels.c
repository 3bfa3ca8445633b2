#include "match/levels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/compare.h"

int px_cmp_levels(const px_cmp_field *f) { return 3 + f->nthresholds; }

/* Days since 0000-03-01 of a YYYY-MM-DD date, or -1. */
static long days(const char *s, size_t n) {
  if (n != 10 || s[4] != '-' || s[7] != '-') return -1;
  long y = 0, m = 0, d = 0;
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return -1;
    long v = s[i] - '0';
    if (i < 4) y = y * 10 + v;
    else if (i < 7) m = m * 10 + v;
    else d = d * 10 + v;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  if (m <= 2) y--, m += 12; /* the year starts in March: leap days come last */
  return 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 1;
}

static int number(const char *s, size_t n, double *out) {
  char buf[64];
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  *out = strtod(buf, &end);
  return *end == 0 && isfinite(*out);
}

/* How far apart a and b are in the field's measure, or NAN when they
 * cannot be measured (then only exactness counts). Smaller is closer. */
static double distance(const px_cmp_field *f, const char *a, size_t an, const char *b, size_t bn) {
  switch (f->kind) {
    case PX_CMP_JARO_WINKLER: return 1.0 - px_match_jaro_winkler(a, an, b, bn);
    case PX_CMP_LEVENSHTEIN: {
      size_t cap = f->nthresholds ? (size_t)f->thresholds[f->nthresholds - 1] : 0;
      return (double)px_match_levenshtein(a, an, b, bn, cap);
    }
    case PX_CMP_DATE: {
      long da = days(a, an), db = days(b, bn);
      return da < 0 || db < 0 ? NAN : (double)labs(da - db);
    }
    case PX_CMP_NUMBER: {
      double x, y;
      if (!number(a, an, &x) || !number(b, bn, &y)) return NAN;
      double scale = fmax(fabs(x), fabs(y));
      return scale == 0 ? 0 : fabs(x - y) / scale;
    }
    default: return NAN;
  }
}

int px_cmp_level(const px_cmp_field *f, const char *a, size_t an, const char *b, size_t bn) {
  if (!an || !bn) return 0;
  if (an == bn && memcmp(a, b, an) == 0) return 1;
  double d = distance(f, a, an, b, bn);
  for (int i = 0; i < f->nthresholds && !isnan(d); i++) {
    double limit = f->kind == PX_CMP_JARO_WINKLER ? 1.0 - f->thresholds[i] : f->thresholds[i];
    if (d <= limit + 1e-12) return 2 + i;
  }
  return 2 + f->nthresholds;
}

const char *px_cmp_level_name(const px_cmp_field *f, int level, char *buf, size_t n) {
  static const char *const measure[] = {"", "jaro_winkler>=", "levenshtein<=", "days<=", "relative_difference<="};
  if (level == 0) return "null";
  if (level == 1) return "exact";
  if (level >= 2 + f->nthresholds) return "different";
  snprintf(buf, n, "%s%g", measure[f->kind], f->thresholds[level - 2]);
  return buf;
}
