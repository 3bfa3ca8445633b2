/* RFM built into the platform: the definition (which computed traits give
 * recency, frequency and monetary value, and how often to refresh), and
 * the refresh that reads those traits for every live profile, ranks them
 * (score/rfm.h), writes each customer's scores (score/scores.h) and
 * re-evaluates the segments of the customers whose scores changed.
 *
 * Scores written per customer (rules read them as score.NAME):
 *   rfm_r, rfm_f, rfm_m      1-5 (numbers)
 *   rfm_cell                 "champions" ... "lost" (string)
 *   rfm_recency_days         whole days since the last purchase at the refresh
 *   rfm_frequency            the frequency trait's value
 *   rfm_monetary             the monetary trait's value
 * A customer is scored when the recency trait has a value (a time); the
 * others count as 0 when null. Profiles that no longer qualify lose their
 * RFM scores. The run's summary is kept under PX_SCORE_GLOBAL, "rfm".
 * See docs/internals/score.md. */
#ifndef PX_SEGMENT_RFM_REFRESH_H
#define PX_SEGMENT_RFM_REFRESH_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "score/rfm.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "store/store.h"

#define PX_RFM_DEF_NAME "rfm"                       /* the PX_DEF_RFM definition's name */
#define PX_RFM_EVERY_DEFAULT_MS (24LL * 3600 * 1000) /* refresh_every when not given */
#define PX_RFM_SUMMARY "rfm"                        /* the summary's name under PX_SCORE_GLOBAL */

typedef struct px_rfm_def {
  char recency[PX_DEF_NAME_MAX];   /* a computed trait giving the last purchase's time */
  char frequency[PX_DEF_NAME_MAX]; /* ... the number of orders */
  char monetary[PX_DEF_NAME_MAX];  /* ... the revenue */
  int64_t every_ms;                /* scheduled refresh interval; 0: only on demand ("never") */
} px_rfm_def;

/* Parses {"recency", "frequency", "monetary", "refresh_every"}: the three
 * names required (computed trait names), refresh_every optional: a
 * positive whole number and a unit s, m, h, d or w ("24h", the default),
 * or "never". Unknown members are errors; err names the member. */
px_status px_rfm_def_parse(const cJSON *j, px_rfm_def *out, px_error *err);
/* The definition as JSON (refresh_every in its largest whole unit). */
px_status px_rfm_def_print(const px_rfm_def *d, px_buf *out);

/* Stores the RFM definition (json: n bytes, px_rfm_def_parse's format)
 * after checking, in txn, that the three computed traits exist and fit
 * (recency: first, last, min or max; frequency and monetary: count, sum,
 * avg, min, max or distinct). PX_INVALID with err->field "rfm.MEMBER".
 * *changed (may be NULL) says the stored body changed. */
px_status px_rfm_define(px_txn *txn, const px_store *st, const char *json, size_t n, int64_t now_ms, int *changed,
                        px_error *err);

/* The stored definition and when it last changed; PX_NOT_FOUND when RFM
 * is not configured. */
px_status px_rfm_def_get(px_txn *txn, const px_store *st, px_rfm_def *out, int64_t *updated_ms);

/* When the next scheduled refresh is due: at once when configured and
 * never refreshed, or changed since the last refresh; else the last
 * refresh + every_ms. INT64_MAX when RFM is not configured or refreshes
 * only on demand. */
px_status px_rfm_next_due(px_txn *txn, const px_store *st, int64_t *due_ms);

typedef struct px_rfm_summary {
  int64_t refreshed_ms;
  uint64_t profiles;   /* live profiles looked at */
  uint64_t population; /* customers scored (the recency trait has a value) */
  px_rfm_cuts cuts;    /* over the population (cuts.r are -days); zero when it is empty */
  uint64_t r[5], f[5], m[5]; /* customers per score 1..5 */
  uint64_t cells[PX_RFM_NCELLS]; /* customers per cell, px_rfm_cell_at order */
  uint64_t changed;    /* customers whose scores changed (their segments re-evaluated) */
  uint64_t removed;    /* profiles whose RFM scores were removed */
} px_rfm_summary;

/* Refreshes every customer's RFM scores at now_ms, as described above, and
 * stores the summary. PX_NOT_FOUND when RFM is not configured; PX_INVALID
 * (err->field "rfm.MEMBER") when a computed trait it names is gone.
 * progress (may be NULL) is called every 1,000 profiles and at the end. */
px_status px_rfm_refresh(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms,
                         px_segment_progress_fn progress, void *arg, px_rfm_summary *out, px_error *err);

/* Appends the RFM status as JSON: {"definition": {...}, "last_refresh":
 * SUMMARY or null, "next_refresh_at": ISO or null}, where SUMMARY is
 * {"refreshed_at", "profiles", "population", "cuts": {"recency_days",
 * "frequency", "monetary"} (four boundaries each, or null),
 * "scores": {"r", "f", "m"} (customers per score 1..5), "cells":
 * {NAME: customers} (all eleven), "changed", "removed"}. PX_NOT_FOUND
 * when RFM is not configured. */
px_status px_rfm_status(px_txn *txn, const px_store *st, px_buf *out);

#endif
