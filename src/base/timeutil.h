/* Time as int64 milliseconds since the Unix epoch, UTC. */
#ifndef PX_BASE_TIMEUTIL_H
#define PX_BASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* The representable range: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
#define PX_TIME_MIN_MS (-62167219200000LL)
#define PX_TIME_MAX_MS (253402300799999LL)

/* Milliseconds since the epoch, UTC; with PICKAXE_NOW set (ISO 8601) the
 * clock starts at that time (back-testing, data from the past). */
int64_t px_time_now_ms(void);
/* Monotonic clock in nanoseconds, for latency measurement. */
uint64_t px_time_mono_ns(void);

/* Parses ISO 8601 / RFC 3339: "2024-05-01", "2024-05-01T10:00:00Z",
 * fractional seconds, "+02:00"/"+0200" offsets, space instead of T.
 * A date-time without a zone is taken as UTC. */
px_status px_time_parse_iso(const char *s, int64_t *out_ms);
/* The UTC day of a time: days since 1970-01-01, rounded down. */
int64_t px_time_day(int64_t ms);
/* Writes "2024-05-01T10:00:00.123Z" (24 chars + NUL); out must hold 32. */
void px_time_format_iso(int64_t ms, char out[32]);

#endif
