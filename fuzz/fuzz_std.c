/* Fuzz target: the standardization functions (values from imported files).
 * Checks: what comes out is stable (standardizing it again gives itself),
 * and a date that is read is one that exists and reads back the same. */
#include "fuzz_common.h"
#include "std/std.h"

static void stable_text(const char *s, size_t n, unsigned flags) {
  px_buf a, b;
  px_buf_init(&a, 0);
  px_buf_init(&b, 0);
  if (px_std_text(s, n, flags, &a) == PX_OK) {
    FUZZ_CHECK(px_std_text(a.data ? a.data : "", a.len, flags, &b) == PX_OK, "its own output is rejected");
    FUZZ_CHECK(a.len == b.len && (!a.len || memcmp(a.data, b.data, a.len) == 0), "text not stable (flags %u)", flags);
  }
  px_buf_free(&a);
  px_buf_free(&b);
}

typedef px_status (*std_fn)(const char *, size_t, px_buf *);

static void stable(std_fn fn, const char *s, size_t n, const char *what) {
  px_buf a, b;
  px_buf_init(&a, 0);
  px_buf_init(&b, 0);
  if (fn(s, n, &a) == PX_OK) {
    FUZZ_CHECK(fn(a.data, a.len, &b) == PX_OK && a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
               "%s not stable: %.*s", what, (int)a.len, a.data);
  }
  px_buf_free(&a);
  px_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_copy(data, size, 0);
  stable_text(s, size, PX_STD_TEXT);
  stable_text(s, size, PX_STD_FOLD);
  stable(px_std_email, s, size, "e-mail");
  stable(px_std_postcode, s, size, "postcode");
  char out[11], again[11];
  for (int o = 0; o < 2; o++) {
    if (px_std_date(s, size, (px_date_order)o, out) != PX_OK) continue;
    FUZZ_CHECK(strlen(out) == 10, "date %s", out);
    FUZZ_CHECK(px_std_date(out, 10, (px_date_order)o, again) == PX_OK && strcmp(out, again) == 0,
               "date %s does not read back", out);
  }
  px_name_parts p;
  if (px_std_name(s, size, &p) == PX_OK) FUZZ_CHECK(p.first[0] || p.last[0], "a name without first or last");
  free(s);
  return 0;
}
