#include "base/buf.h"

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

px_status px_buf_json_str(px_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  px_status st = px_buf_reserve(b, n + 2);
  if (st != PX_OK) return st;
  b->data[b->len++] = '"';
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && !needs_escape[(unsigned char)s[i]]) i++;
    if ((st = px_buf_append(b, s + start, i - start)) != PX_OK) return st;
    if (i == n) break;
    unsigned char c = (unsigned char)s[i++];
    char e[6] = {'\\', 0};
    size_t en = 2;
    switch (c) {
      case '"': e[1] = '"'; break;
      case '\\': e[1] = '\\'; break;
      case '\n': e[1] = 'n'; break;
      case '\r': e[1] = 'r'; break;
      case '\t': e[1] = 't'; break;
      case '\b': e[1] = 'b'; break;
      case '\f': e[1] = 'f'; break;
      default:
        e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
        en = 6;
    }
    if ((st = px_buf_append(b, e, en)) != PX_OK) return st;
  }
  return px_buf_putc(b, '"');
}
