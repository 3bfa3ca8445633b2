/* Latency samples with exact percentiles, and tallies of HTTP outcomes. */
#ifndef PX_BENCH_STATS_H
#define PX_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "httpc.h"

/* Every sample is kept (8 bytes each) so percentiles are exact. */
typedef struct px_lat {
  uint64_t *v; /* nanoseconds */
  size_t n, cap;
} px_lat;

void px_lat_add(px_lat *l, uint64_t ns);
void px_lat_merge(px_lat *dst, const px_lat *src);
void px_lat_free(px_lat *l);

typedef struct px_lat_summary {
  size_t n;
  double mean_ms, p50_ms, p90_ms, p99_ms, p999_ms, max_ms;
} px_lat_summary;

/* Sorts l in place, then summarizes it (nearest-rank percentiles). */
void px_lat_summarize(px_lat *l, px_lat_summary *s);
/* "name":{"n":..,"mean":..,"p50":..,"p90":..,"p99":..,"p99_9":..,"max":..} in ms. */
void px_lat_print_json(FILE *f, const char *name, const px_lat_summary *s);

/* Responses by HTTP status, and requests that got no response, by cause. */
typedef struct px_tally {
  uint64_t status[600];
  uint64_t err[PX_HTTP_NRC];
} px_tally;

void px_tally_merge(px_tally *dst, const px_tally *src);
uint64_t px_tally_responses(const px_tally *t);
uint64_t px_tally_errors(const px_tally *t);
/* "200=123 503=4" then " timeout=1" for errors; "none" if empty. */
void px_tally_print_human(FILE *f, const px_tally *t);
/* "status":{"200":123},"errors":{"timeout":1} */
void px_tally_print_json(FILE *f, const px_tally *t);

#endif
