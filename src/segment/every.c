/* Refresh intervals (segment/every.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score/scores.h"
#include "segment/every.h"

static const struct {
  char unit;
  int64_t ms;
} units[] = {{'w', 7 * 86400000LL}, {'d', 86400000LL}, {'h', 3600000LL}, {'m', 60000LL}, {'s', 1000LL}};

int px_every_parse(const char *s, int64_t *out) {
  if (strcmp(s, "never") == 0) return *out = 0, 1;
  char *end;
  if (*s < '1' || *s > '9') return 0;
  long long n = strtoll(s, &end, 10);
  if (end[0] == 0 || end[1] != 0) return 0;
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (units[i].unit == end[0]) {
      if (n > 36525LL * 86400000 / units[i].ms) return 0; /* at most 100 years */
      return *out = n * units[i].ms, 1;
    }
  return 0;
}

void px_every_format(int64_t ms, char out[32]) {
  if (!ms) {
    snprintf(out, 32, "never");
    return;
  }
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (ms % units[i].ms == 0) {
      snprintf(out, 32, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
      return;
    }
  snprintf(out, 32, "%llds", (long long)(ms / 1000));
}

px_status px_every_next_due(px_txn *txn, const px_store *st, const char *summary, int64_t updated_ms,
                            int64_t every_ms, int64_t *due_ms) {
  *due_ms = INT64_MAX;
  if (!every_ms) return PX_OK;
  px_score last;
  px_status s = px_score_read(txn, st, PX_SCORE_GLOBAL, summary, &last);
  if (s == PX_NOT_FOUND || (s == PX_OK && updated_ms > last.since_ms)) {
    *due_ms = INT64_MIN;
    return PX_OK;
  }
  if (s == PX_OK) *due_ms = last.since_ms > INT64_MAX - every_ms ? INT64_MAX : last.since_ms + every_ms;
  return s;
}
