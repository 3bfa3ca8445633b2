/* The BTYD summary step (issue 5): purchases (customer, day, amount) to
 * one px_btyd_customer per customer for a calibration period. Purchases of
 * a customer on the same day are one purchase (their amounts added); the
 * first purchase day is not a repeat; x counts the later purchase days up
 * to the calibration end (inclusive), t_x is the last of them and T the
 * calibration end, both from the first day, in the time unit; m is the
 * mean amount of the repeat days. Customers whose first purchase is after
 * the calibration end are left out. */
#ifndef PX_CLV_SUMMARY_H
#define PX_CLV_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "clv/btyd.h"

typedef struct px_clv_summary px_clv_summary;

/* unit_days: 1 for days, 7 for weeks. */
px_clv_summary *px_clv_summary_new(int64_t calibration_end_day, double unit_days);
void px_clv_summary_free(px_clv_summary *s);
/* One purchase: day is days since 1970-01-01 (px_clv_parse_day);
 * PX_INVALID for an empty customer id, one holding a NUL byte, or an
 * amount that is not finite. */
px_status px_clv_summary_add(px_clv_summary *s, const char *customer, size_t n, int64_t day, double amount);
/* The customers (in order of first appearance in the input), valid until
 * the summary is freed; ids[i] names out[i] (NUL-terminated). */
px_status px_clv_summary_build(px_clv_summary *s, const px_btyd_customer **out, const char *const **ids,
                               size_t *n);

/* One purchase as added: day (days since 1970-01-01) and amount. */
typedef struct px_clv_purchase {
  int64_t day;
  double amount;
} px_clv_purchase;

/* One customer's summary from its n purchases sorted by day (several on a
 * day are combined), for a calibration end day and a unit in days: the
 * rules above. 0 (out untouched) when there is no purchase up to end_day.
 * What px_clv_summary_build does per customer; the platform's CLV refresh
 * calls it on each profile's purchase days. */
int px_clv_customer_of(const px_clv_purchase *p, size_t n, int64_t end_day, double unit_days, px_btyd_customer *out);

/* All the purchases of out[k] of the last px_clv_summary_build, also
 * those after the calibration end, sorted by day (purchases on one day are
 * separate entries), into *n (at least 1); valid until the next add or
 * build, or the free. NULL when k is not a customer of that build. */
const px_clv_purchase *px_clv_summary_purchases(const px_clv_summary *s, size_t k, size_t *n);

/* A date as days since 1970-01-01: YYYYMMDD, YYYY-MM-DD, or an ISO 8601
 * time (its UTC date). */
px_status px_clv_parse_day(const char *s, size_t n, int64_t *day);

#endif
