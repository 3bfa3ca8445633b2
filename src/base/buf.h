/* A growable byte buffer with a hard cap: growing past the cap is an error,
 * never an unbounded allocation. */
#ifndef PX_BASE_BUF_H
#define PX_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/status.h"

typedef struct px_buf {
  char *data;   /* always NUL-terminated when len > 0 or after any append */
  size_t len;
  size_t cap;   /* allocated bytes */
  size_t max;   /* hard cap on len; 0 means SIZE_MAX */
} px_buf;

void px_buf_init(px_buf *b, size_t max);
void px_buf_free(px_buf *b);
void px_buf_reset(px_buf *b);
px_status px_buf_append_slow(px_buf *b, const void *p, size_t n);

/* Appends n bytes; the common case (room left) stays inline. */
static inline px_status px_buf_append(px_buf *b, const void *p, size_t n) {
  if (b->data && n < b->cap - b->len && b->len + n <= b->max) {
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return PX_OK;
  }
  return px_buf_append_slow(b, p, n);
}

/* Makes room for at least extra more bytes. */
px_status px_buf_reserve(px_buf *b, size_t extra);
static inline px_status px_buf_putc(px_buf *b, char c) { return px_buf_append(b, &c, 1); }
px_status px_buf_puts(px_buf *b, const char *s);
px_status px_buf_printf(px_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The shortest text of d that reads back as d (%.15g, else %.17g). */
void px_num_shortest(double d, char out[40]);
/* Appends that text, or null when d is not finite (as JSON has it). */
px_status px_buf_num(px_buf *b, double d);
/* Appends s as a JSON string literal (with quotes), escaping as needed. */
px_status px_buf_json_str(px_buf *b, const char *s, size_t n);

#endif
