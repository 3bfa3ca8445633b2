/* The pipeline applied to every event, whatever its way in (HTTP, import,
 * replay): prepare (validate, normalize, check identifiers) outside the
 * store; then within a write transaction: deduplicate, append to the event
 * log, resolve identity, merge, apply to the profile. Applying is a
 * deterministic function of (stored state, event, configuration), so a
 * replay of the log rebuilds the same profiles. */
#ifndef PX_INGEST_PIPELINE_H
#define PX_INGEST_PIPELINE_H

#include <lmdb.h>

#include "config/config.h"
#include "event/event.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* px_event_from_json plus the check that at least one identifier is usable. */
px_status px_pipeline_prepare(const px_config *cfg, cJSON *item, const px_event_ctx *ctx,
                              px_event *ev, px_error *err);

/* Deduplicates and logs ev (setting ev->seq), then derives. *duplicate is
 * set when the source already sent this messageId; nothing is written then. */
px_status px_pipeline_ingest(px_txn *txn, const px_store *st, const px_config *cfg, px_event *ev,
                             int *duplicate, px_metrics *m);

/* The same for n events in order, reading the log position once: dup[i] is
 * set for each event the source had already sent. */
px_status px_pipeline_ingest_many(px_txn *txn, const px_store *st, const px_config *cfg,
                                  px_event *evs, size_t n, uint8_t *dup, px_metrics *m);

/* The log half of px_pipeline_ingest_many (a PX_TXN_LOG or PX_TXN_WRITE
 * transaction): deduplicates and appends, setting each event's seq and dup[i]. */
px_status px_pipeline_log_many(px_txn *txn, const px_store *st, const px_config *cfg, px_event *evs,
                               size_t n, uint8_t *dup);

/* The state half, for events this process logged with px_pipeline_log_many
 * and still holds (a PX_TXN_STATE transaction): derives those the state has
 * not applied yet, from memory rather than from the log. PX_BEHIND when
 * other events come before them in the log (a catch-up's work, which also
 * fills the dedup table). */
px_status px_pipeline_apply_logged(px_txn *txn, const px_store *st, const px_config *cfg,
                                   const px_event *evs, size_t n, const uint8_t *dup);

/* Identity resolution and profile application for a logged event. */
px_status px_pipeline_derive(px_txn *txn, const px_store *st, const px_config *cfg,
                             const px_event *ev, px_metrics *m);

/* Applies to the state, in log order, the logged events it has not applied
 * yet (at most max; 0 = all), each under the configuration version it was
 * logged under (cfg is the current one), recording them in the dedup index;
 * *done (may be NULL) receives how many. Writers call it first, so events
 * logged by another process are applied before theirs. */
px_status px_pipeline_catch_up(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t max,
                               uint64_t *done);

typedef void (*px_progress_fn)(void *arg, uint64_t done, uint64_t total);
/* Catches the state up with the whole log, in transactions of 50,000 events;
 * progress (may be NULL) is called after each. */
px_status px_pipeline_catch_up_all(px_store *st, px_progress_fn progress, void *arg, px_error *err);

/* Rebuilds the state from the log in one transaction: empty it, catch up
 * with the whole log, commit. Readers see the old state until then; other
 * writers wait. */
px_status px_pipeline_replay(px_store *st, px_progress_fn progress, void *arg, px_error *err);

#endif
