#include "std/std.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "base/utf8.h"

/* ---- text ---- */

static int is_space_or_punct(utf8proc_int32_t cp, unsigned flags) {
  utf8proc_category_t cat = utf8proc_category(cp);
  if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ||
      cat == UTF8PROC_CATEGORY_CC)
    return 1;
  if (!(flags & PX_STD_NO_PUNCT)) return 0;
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_SO; /* punctuation and symbols */
}

px_status px_std_text(const char *in, size_t n, unsigned flags, px_buf *out) {
  if (px_utf8_invalid_at(in, n) >= 0) return PX_INVALID;
  int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (flags & PX_STD_FOLD) opts |= UTF8PROC_CASEFOLD;
  if (flags & PX_STD_STRIP_ACCENTS) opts |= UTF8PROC_STRIPMARK;
  utf8proc_uint8_t *mapped = NULL;
  utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)n, &mapped,
                                    (utf8proc_option_t)opts);
  if (m < 0) return m == UTF8PROC_ERROR_NOMEM ? PX_NOMEM : PX_INVALID;
  px_status s = PX_OK;
  int pending_space = 0, any = 0;
  for (utf8proc_ssize_t i = 0; i < m && s == PX_OK;) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(mapped + i, m - i, &cp);
    if (k <= 0) {
      s = PX_INVALID;
      break;
    }
    if (is_space_or_punct(cp, flags)) {
      pending_space = any;
    } else {
      if (pending_space) s = px_buf_putc(out, ' ');
      if (s == PX_OK) s = px_buf_append(out, mapped + i, (size_t)k);
      pending_space = 0;
      any = 1;
    }
    i += k;
  }
  free(mapped);
  return s;
}

/* ---- e-mail ---- */

px_status px_std_email(const char *in, size_t n, px_buf *out) {
  while (n && isspace((unsigned char)*in)) in++, n--;
  while (n && isspace((unsigned char)in[n - 1])) n--;
  const char *at = memchr(in, '@', n);
  if (!at || at == in || at == in + n - 1 || memchr(at + 1, '@', (size_t)(in + n - at - 1))) return PX_INVALID;
  const char *dot = memchr(at + 1, '.', (size_t)(in + n - at - 1));
  if (!dot || dot == at + 1 || dot == in + n - 1) return PX_INVALID;
  for (size_t i = 0; i < n; i++)
    if (isspace((unsigned char)in[i]) || strchr("<>,;\"()[]\\", in[i])) return PX_INVALID;
  size_t start = out->len;
  px_status s = px_buf_append(out, in, n);
  for (size_t i = start; s == PX_OK && i < out->len; i++) out->data[i] = (char)tolower((unsigned char)out->data[i]);
  return s;
}

/* ---- dates ---- */

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* 1-12 for a month name or its first three letters or more ("sept"), else 0. */
static int month_name(const char *s, size_t n) {
  if (n < 3) return 0;
  for (int i = 0; i < 12; i++)
    if (strncasecmp(s, months[i], 3) == 0) return i + 1;
  return 0;
}

typedef struct token {
  const char *s;
  size_t n;
  int digits; /* all ASCII digits */
} token;

static px_status finish_date(int y, int m, int d, char out[11]) {
  if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in(y, m)) return PX_INVALID;
  int v[3] = {y, m, d}, w[3] = {4, 2, 2}, k = 0;
  for (int i = 0; i < 3; i++) {
    if (i) out[k++] = '-';
    for (int j = w[i] - 1; j >= 0; j--, v[i] /= 10) out[k + j] = (char)('0' + v[i] % 10);
    k += w[i];
  }
  out[k] = 0;
  return PX_OK;
}

static int number(const token *t) {
  int v = 0;
  for (size_t i = 0; i < t->n && i < 9; i++) v = v * 10 + (t->s[i] - '0');
  return v;
}

static int year_of(const token *t) {
  int y = number(t);
  if (t->n == 2) y += y <= 30 ? 2000 : 1900;
  return t->n == 2 || t->n == 4 ? y : -1;
}

px_status px_std_date(const char *in, size_t n, px_date_order order, char out[11]) {
  while (n && isspace((unsigned char)*in)) in++, n--;
  while (n && isspace((unsigned char)in[n - 1])) n--;
  /* 2024-03-05T10:00:00Z or 2024-03-05 10:00: the date part. */
  if (n > 10 && isdigit((unsigned char)in[0]) && in[4] == '-' && (in[10] == 'T' || in[10] == ' ')) n = 10;
  token t[4];
  int nt = 0;
  for (size_t i = 0; i < n;) {
    if (strchr(" -/.,", in[i])) {
      i++;
      continue;
    }
    if (nt == 3) return PX_INVALID;
    size_t j = i;
    int digits = isdigit((unsigned char)in[i]) != 0;
    while (j < n && !strchr(" -/.,", in[j])) {
      if ((isdigit((unsigned char)in[j]) != 0) != digits) return PX_INVALID;
      j++;
    }
    t[nt++] = (token){in + i, j - i, digits};
    i = j;
  }
  if (nt == 1 && t[0].digits && t[0].n == 8) { /* 20240305 */
    token y = {t[0].s, 4, 1}, m = {t[0].s + 4, 2, 1}, d = {t[0].s + 6, 2, 1};
    return finish_date(number(&y), number(&m), number(&d), out);
  }
  if (nt != 3) return PX_INVALID;
  int alpha = -1;
  for (int i = 0; i < 3; i++)
    if (!t[i].digits) {
      if (alpha >= 0) return PX_INVALID;
      alpha = i;
    }
  if (alpha >= 0) { /* 5 Mar 2024, March 5, 2024, 2024 Mar 5 */
    int m = month_name(t[alpha].s, t[alpha].n);
    token *num[2];
    for (int i = 0, k = 0; i < 3; i++)
      if (i != alpha) num[k++] = &t[i];
    int yi = num[0]->n == 4 ? 0 : num[1]->n == 4 ? 1 : num[1]->n == 2 && alpha == 1 ? 1 : -1;
    if (!m || yi < 0 || num[!yi]->n > 2) return PX_INVALID;
    return finish_date(year_of(num[yi]), m, number(num[!yi]), out);
  }
  for (int i = 0; i < 3; i++)
    if (t[i].n > 4) return PX_INVALID;
  if (t[0].n == 4) return finish_date(number(&t[0]), number(&t[1]), number(&t[2]), out); /* 2024-03-05 */
  if (t[0].n > 2 || t[1].n > 2) return PX_INVALID;
  int y = year_of(&t[2]);
  return order == PX_DATE_MDY ? finish_date(y, number(&t[0]), number(&t[1]), out)
                              : finish_date(y, number(&t[1]), number(&t[0]), out);
}

/* ---- phone numbers ---- */

px_status px_std_phone(const char *in, size_t n, const char *country_code, px_buf *out) {
  char d[64];
  size_t nd = 0;
  int plus = 0;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (c == '(' && i + 2 < n && in[i + 1] == '0' && in[i + 2] == ')') {
      i += 2; /* "+44 (0)20 ...": the national trunk prefix in brackets */
      continue;
    }
    if (c >= '0' && c <= '9') {
      if (nd >= sizeof d - 1) return PX_INVALID;
      d[nd++] = c;
    } else if (c == '+' && nd == 0 && !plus) {
      plus = 1;
    } else if (!memchr(" \t-.()/", c, 7)) {
      return PX_INVALID;
    }
  }
  d[nd] = 0;
  size_t ccn = strlen(country_code);
  const char *cc = "", *num = d;
  if (plus) {
  } else if (nd > 2 && d[0] == '0' && d[1] == '0') {
    num += 2; /* 00: the international prefix */
  } else if (nd > 10 && ccn && strncmp(d, country_code, ccn) == 0) {
    /* Already international without the +, e.g. 1-555-010-9999 with code 1. */
  } else {
    if (d[0] == '0') num++; /* national trunk prefix */
    cc = country_code;
  }
  size_t digits = strlen(cc) + strlen(num);
  if (digits < 7 || digits > 15) return PX_INVALID;
  px_status s = px_buf_puts(out, "+");
  if (s == PX_OK) s = px_buf_puts(out, cc);
  if (s == PX_OK) s = px_buf_puts(out, num);
  return s;
}

/* ---- postcodes ---- */

/* The outward and inward parts of a British postcode, spaces removed:
 * A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA. */
static int british(const char *s, size_t n) {
  if (n < 5 || n > 7) return 0;
  const char *in = s + n - 3;
  if (!isdigit((unsigned char)in[0]) || !isalpha((unsigned char)in[1]) || !isalpha((unsigned char)in[2])) return 0;
  size_t on = n - 3;
  if (!isalpha((unsigned char)s[0])) return 0;
  for (size_t i = 1; i < on; i++)
    if (!isalnum((unsigned char)s[i])) return 0;
  return isdigit((unsigned char)s[1]) || (on >= 3 && isalpha((unsigned char)s[1]) && isdigit((unsigned char)s[2]));
}

px_status px_std_postcode(const char *in, size_t n, px_buf *out) {
  char buf[32];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)in[i];
    if (isspace(ch)) continue;
    if (!isalnum(ch) && ch != '-') return PX_INVALID;
    if (k == sizeof buf) return PX_INVALID;
    buf[k++] = (char)toupper(ch);
  }
  if (!k) return PX_INVALID;
  if (british(buf, k)) {
    px_status s = px_buf_append(out, buf, k - 3);
    if (s == PX_OK) s = px_buf_putc(out, ' ');
    return s == PX_OK ? px_buf_append(out, buf + k - 3, 3) : s;
  }
  return px_buf_append(out, buf, k);
}

/* ---- names ---- */

static int listed(const char *w, size_t n, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == n && strncasecmp(w, *list, n) == 0) return 1;
  return 0;
}

static const char *const titles[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "lady", "lord", NULL};
static const char *const suffixes[] = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", NULL};

static void set_part(char *dst, const char *s, size_t n) {
  if (n >= PX_NAME_PART_MAX) n = PX_NAME_PART_MAX - 1;
  memcpy(dst, s, n);
  dst[n] = 0;
}

static void add_part(char *dst, const char *s, size_t n) {
  size_t used = strlen(dst);
  if (used && used + 1 < PX_NAME_PART_MAX) dst[used++] = ' ';
  set_part(dst + used, s, n < PX_NAME_PART_MAX - used ? n : PX_NAME_PART_MAX - used - 1);
}

px_status px_std_name(const char *in, size_t n, px_name_parts *out) {
  memset(out, 0, sizeof *out);
  if (memchr(in, 0, n) || px_utf8_invalid_at(in, n) >= 0) return PX_INVALID;
  token w[32];
  int nw = 0, comma_after = -1; /* "Smith, Ann": the words before the comma are the surname */
  for (size_t i = 0; i < n;) {
    if (in[i] == ',') {
      if (comma_after < 0) comma_after = nw;
      i++;
      continue;
    }
    if (isspace((unsigned char)in[i])) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < n && in[j] != ',' && !isspace((unsigned char)in[j])) j++;
    size_t len = j - i;
    while (len && in[i + len - 1] == '.') len--; /* "Dr." "B." */
    if (len && nw < 32) w[nw++] = (token){in + i, len, 0};
    i = j;
  }
  if (!nw) return PX_INVALID;
  int lo = 0, hi = nw; /* the words left once titles and suffixes are taken */
  while (lo < hi && listed(w[lo].s, w[lo].n, titles)) add_part(out->title, w[lo].s, w[lo].n), lo++;
  while (hi > lo && listed(w[hi - 1].s, w[hi - 1].n, suffixes)) hi--;
  for (int i = hi; i < nw; i++) add_part(out->suffix, w[i].s, w[i].n);
  if (lo == hi) return PX_INVALID;
  if (comma_after > lo && comma_after < hi) { /* Smith, Ann B. */
    for (int i = lo; i < comma_after; i++) add_part(out->last, w[i].s, w[i].n);
    lo = comma_after;
    set_part(out->first, w[lo].s, w[lo].n);
    for (int i = lo + 1; i < hi; i++) add_part(out->middle, w[i].s, w[i].n);
    return PX_OK;
  }
  if (hi - lo == 1) { /* one word: a surname */
    set_part(out->last, w[lo].s, w[lo].n);
    return PX_OK;
  }
  set_part(out->first, w[lo].s, w[lo].n);
  set_part(out->last, w[hi - 1].s, w[hi - 1].n);
  for (int i = lo + 1; i < hi - 1; i++) add_part(out->middle, w[i].s, w[i].n);
  return PX_OK;
}
