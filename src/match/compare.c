#include "match/compare.h"

#include <stdlib.h>
#include <string.h>

#define STACK 256 /* longer strings take the heap */

double px_match_jaro(const char *a, size_t an, const char *b, size_t bn) {
  if (an == 0 && bn == 0) return 1.0;
  if (an == 0 || bn == 0) return 0.0;
  size_t window = (an > bn ? an : bn) / 2;
  window = window ? window - 1 : 0;
  unsigned char sa[STACK], sb[STACK], *ma = an <= STACK ? sa : calloc(an, 1), *mb = bn <= STACK ? sb : calloc(bn, 1);
  if (!ma || !mb) {
    if (ma != sa) free(ma);
    if (mb != sb) free(mb);
    return an == bn && memcmp(a, b, an) == 0 ? 1.0 : 0.0;
  }
  if (ma == sa) memset(ma, 0, an);
  if (mb == sb) memset(mb, 0, bn);
  size_t matches = 0;
  for (size_t i = 0; i < an; i++) {
    size_t lo = i > window ? i - window : 0, hi = i + window + 1 < bn ? i + window + 1 : bn;
    for (size_t j = lo; j < hi; j++) {
      if (mb[j] || a[i] != b[j]) continue;
      ma[i] = mb[j] = 1;
      matches++;
      break;
    }
  }
  double jaro = 0.0;
  if (matches) {
    size_t transpositions = 0;
    for (size_t i = 0, j = 0; i < an; i++) {
      if (!ma[i]) continue;
      while (!mb[j]) j++;
      transpositions += a[i] != b[j];
      j++;
    }
    double m = (double)matches;
    jaro = (m / (double)an + m / (double)bn + (m - (double)transpositions / 2.0) / m) / 3.0;
  }
  if (ma != sa) free(ma);
  if (mb != sb) free(mb);
  return jaro;
}

double px_match_jaro_winkler(const char *a, size_t an, const char *b, size_t bn) {
  double j = px_match_jaro(a, an, b, bn);
  if (j < 0.7) return j;
  size_t prefix = 0;
  while (prefix < 4 && prefix < an && prefix < bn && a[prefix] == b[prefix]) prefix++;
  return j + (double)prefix * 0.1 * (1.0 - j);
}

size_t px_match_levenshtein(const char *a, size_t an, const char *b, size_t bn, size_t max) {
  if (an < bn) { /* a is the longer */
    const char *t = a;
    a = b, b = t;
    size_t tn = an;
    an = bn, bn = tn;
  }
  if (an - bn > max) return max + 1;
  size_t stack[STACK + 1], *row = bn + 1 <= STACK + 1 ? stack : malloc((bn + 1) * sizeof *row);
  if (!row) return max + 1;
  for (size_t j = 0; j <= bn; j++) row[j] = j;
  size_t result = 0;
  for (size_t i = 1; i <= an; i++) {
    size_t diag = row[0], best = row[0] = i;
    for (size_t j = 1; j <= bn; j++) {
      size_t up = row[j];
      size_t cost = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < cost) cost = up + 1;
      if (row[j - 1] + 1 < cost) cost = row[j - 1] + 1;
      row[j] = cost;
      diag = up;
      if (cost < best) best = cost;
    }
    if (best > max) { /* every path already costs more */
      result = max + 1;
      break;
    }
  }
  if (!result) result = row[bn] > max ? max + 1 : row[bn];
  if (row != stack) free(row);
  return result;
}
