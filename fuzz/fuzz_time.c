/* Fuzz target: px_time_parse_iso, which reads every client timestamp.
 * Checks: a parsed time formats to a 24-character timestamp that parses
 * back to the same instant (within the four-digit years format can write),
 * and parsing is deterministic. */
#include "base/timeutil.h"
#include "fuzz_common.h"

#define MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_copy(data, size, 1);
  int64_t ms = 0, again = 0;
  px_status st = px_time_parse_iso(s, &ms);
  FUZZ_CHECK(st == PX_OK || st == PX_INVALID, "status %s", px_status_str(st));
  if (st == PX_OK) {
    /* An offset may push the instant a day past the four-digit range, no more. */
    FUZZ_CHECK(ms >= MIN_MS - 86400000LL && ms <= MAX_MS + 86400000LL, "\"%s\" -> %lld", s, (long long)ms);
    FUZZ_CHECK(px_time_parse_iso(s, &again) == PX_OK && again == ms, "not deterministic");
    char out[32];
    px_time_format_iso(ms, out);
    FUZZ_CHECK(strlen(out) == 24, "\"%s\" -> %lld -> \"%s\"", s, (long long)ms, out);
    if (ms >= MIN_MS && ms <= MAX_MS) {
      int64_t back = 0;
      FUZZ_CHECK(px_time_parse_iso(out, &back) == PX_OK, "\"%s\" -> \"%s\" does not parse", s, out);
      FUZZ_CHECK(back == ms, "\"%s\" -> %lld -> \"%s\" -> %lld", s, (long long)ms, out, (long long)back);
    }
  }
  free(s);
  return 0;
}
