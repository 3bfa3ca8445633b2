#include "base/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* PICKAXE_NOW (ISO 8601): the process's clock starts at that time and runs
 * on from there, for back-testing and for data from the past (windows and
 * recency measured as of then). Read once. */
static int64_t clock_offset_ms(void) {
  static int64_t offset;
  static int done;
  if (__atomic_load_n(&done, __ATOMIC_ACQUIRE)) return offset;
  const char *pin = getenv("PICKAXE_NOW");
  int64_t at, off = 0;
  if (pin && *pin && px_time_parse_iso(pin, &at) == PX_OK) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    off = at - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  }
  offset = off; /* threads racing here compute offsets a few ms apart: harmless */
  __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
  return offset;
}

int64_t px_time_now_ms(void) {
  int64_t offset = clock_offset_ms(); /* first: the clock is read after the offset was taken */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
}

uint64_t px_time_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return 0;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 ? 28 + leap : dm[m - 1];
}

px_status px_time_parse_iso(const char *s, int64_t *out_ms) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
      !digits(&p, 2, &d))
    return PX_INVALID;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return PX_INVALID;
  int offset_min = 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return PX_INVALID;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &sec)) return PX_INVALID;
      if (*p == '.' || *p == ',') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
          if (n < 3) ms = ms * 10 + (*p - '0');
          n++;
          p++;
        }
        if (n == 0) return PX_INVALID;
        for (; n < 3; n++) ms *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return PX_INVALID;
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
      if (!digits(&p, 2, &oh)) return PX_INVALID;
      if (*p == ':') {
        p++;
        if (!digits(&p, 2, &om)) return PX_INVALID; /* "+02:" needs its minutes */
      } else if (isdigit((unsigned char)*p) && !digits(&p, 2, &om)) {
        return PX_INVALID;
      }
      if (oh > 23 || om > 59) return PX_INVALID;
      offset_min = sign * (oh * 60 + om);
    }
  }
  if (*p != 0) return PX_INVALID;
  int64_t days = days_from_civil(y, mo, d);
  int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec;
  t -= (int64_t)offset_min * 60;
  *out_ms = t * 1000 + ms;
  return PX_OK;
}

void px_time_format_iso(int64_t ms, char out[32]) {
  if (ms < PX_TIME_MIN_MS) ms = PX_TIME_MIN_MS; /* out of range: clamp, never overflow */
  if (ms > PX_TIME_MAX_MS) ms = PX_TIME_MAX_MS;
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int milli = (int)(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999; /* four-digit years only */
  /* Hand-rolled: this runs for every event and snprintf dominated profiles. */
  int f[7] = {(int)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), milli};
  static const char sep[] = "--T::.";
  char *p = out;
  for (int i = 0; i < 7; i++) {
    int width = i == 0 ? 4 : i == 6 ? 3 : 2;
    for (int k = width - 1, v = f[i]; k >= 0; k--, v /= 10) p[k] = (char)('0' + v % 10);
    p += width;
    if (i < 6) *p++ = sep[i];
  }
  *p++ = 'Z';
  *p = 0;
}

int64_t px_time_day(int64_t ms) {
  const int64_t day = 86400000LL;
  return ms >= 0 ? ms / day : -((-ms + day - 1) / day);
}
