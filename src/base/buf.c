#include "base/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void px_buf_init(px_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max ? max : SIZE_MAX;
}

void px_buf_free(px_buf *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void px_buf_reset(px_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

static px_status reserve(px_buf *b, size_t extra) {
  if (extra > b->max - b->len) return PX_TOO_LARGE;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return PX_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return PX_NOMEM;
  b->data = p;
  b->cap = cap;
  return PX_OK;
}

px_status px_buf_append_slow(px_buf *b, const void *p, size_t n) {
  px_status s = reserve(b, n);
  if (s != PX_OK) return s;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return PX_OK;
}

px_status px_buf_puts(px_buf *b, const char *s) { return px_buf_append(b, s, strlen(s)); }

px_status px_buf_reserve(px_buf *b, size_t extra) {
  px_status s = reserve(b, extra);
  if (s == PX_OK) b->data[b->len] = 0;
  return s;
}

px_status px_buf_printf(px_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return PX_INVALID;
  if ((size_t)n < sizeof small) return px_buf_append(b, small, (size_t)n);
  px_status s = reserve(b, (size_t)n);
  if (s != PX_OK) return s;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return PX_OK;
}

/* 1 for the bytes a JSON string must escape: control characters, " and \\. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether some byte of w is below 0x20, '"' or '\\' (exact: bytes of 0x80
 * and above never match). */
static inline int escapes_in_word(uint64_t w) {
  uint64_t below = (w - ONES * 0x20) & ~w;
  uint64_t quote = w ^ (ONES * '"'), slash = w ^ (ONES * '\\');
  uint64_t zeros = ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash);
  return ((below | zeros) & HIGHS) != 0;
}

/* The escape for byte c (a control character, '"' or '\\') at o; returns its length. */
static size_t write_escape(char *o, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  o[0] = '\\';
  switch (c) {
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    case '\b': o[1] = 'b'; return 2;
    case '\f': o[1] = 'f'; return 2;
    default:
      o[1] = 'u', o[2] = '0', o[3] = '0', o[4] = hex[c >> 4], o[5] = hex[c & 15];
      return 6;
  }
}

px_status px_buf_json_str(px_buf *b, const char *s, size_t n) {
  /* Room for the worst case (every byte a six-byte escape), then one pass
   * writing straight into the buffer. Near the cap, the exact size decides. */
  size_t worst = n * 6 + 2;
  if (n > (SIZE_MAX - 2) / 6 || worst > b->max - b->len) {
    size_t exact = 2;
    for (size_t i = 0; i < n; i++)
      exact += needs_escape[(unsigned char)s[i]] ? (strchr("\"\\\n\r\t\b\f", s[i]) && s[i] ? 2 : 6) : 1;
    worst = exact;
  }
  px_status st = reserve(b, worst);
  if (st != PX_OK) return st;
  char *o = b->data + b->len;
  *o++ = '"';
  size_t i = 0;
  while (i < n) {
    /* Eight bytes at a time while none needs escaping (the usual case). */
    for (uint64_t w; i + 8 <= n; i += 8, o += 8) {
      memcpy(&w, s + i, 8);
      if (escapes_in_word(w)) break;
      memcpy(o, &w, 8);
    }
    while (i < n && !needs_escape[(unsigned char)s[i]]) *o++ = s[i++];
    if (i < n) o += write_escape(o, (unsigned char)s[i++]);
  }
  *o++ = '"';
  *o = 0;
  b->len = (size_t)(o - b->data);
  return PX_OK;
}

void px_num_shortest(double d, char out[40]) {
  snprintf(out, 40, "%.15g", d);
  if (strtod(out, NULL) != d) snprintf(out, 40, "%.17g", d);
}

px_status px_buf_num(px_buf *b, double d) {
  char t[40];
  if (!isfinite(d)) return px_buf_puts(b, "null");
  px_num_shortest(d, t);
  return px_buf_puts(b, t);
}
