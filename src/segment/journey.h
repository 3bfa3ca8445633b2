/* Journey stages (issue 5): a declared, ordered stage model in which each
 * stage is a rule, and a profile's stage is the furthest one (in declared
 * order) whose rule holds. Two presets ship: "retail" (new_visitor,
 * browsing, considering, first_purchase, repeat, loyal, lapsing, lost) and
 * "business" (need, research, decide, adopt, use, recommend).
 *
 * A model is kept as segments, one per stage, named
 * "journey.MODEL.STAGE", whose rules make them exclusive (stage k's rule
 * and none of the later ones), so the segment engine keeps stages current
 * as events arrive and as time passes, and records every change with its
 * time and cause. A profile's stays (stage, entered, left, time in stage)
 * and the funnel over a period are read from that history. See
 * docs/internals/segment.md. */
#ifndef PX_SEGMENT_JOURNEY_H
#define PX_SEGMENT_JOURNEY_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "segment/engine.h"
#include "store/store.h"

#define PX_JOURNEY_MAX_STAGES 16
#define PX_JOURNEY_NAME_MAX 48 /* model and stage names: 1-47 of a-z 0-9 _ */

/* The preset's definition as JSON ({"stages": [{"name", "rule"}...]}), or
 * NULL for an unknown preset. */
const char *px_journey_preset(const char *name);

/* Defines or replaces model name from json (n bytes): {"stages": [{"name",
 * "rule"}...]} (2 to PX_JOURNEY_MAX_STAGES stages, names unique) or
 * {"preset": "retail"|"business"}. Its stage segments are defined (and
 * backfilled) in txn; stages a new version drops are deleted. PX_INVALID
 * with err->field ("journey.stages[2].rule") for a bad definition; a rule
 * that does not compile names the stage and the rule's error. */
px_status px_journey_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, const char *json,
                            size_t n, int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err);
/* Checks a definition (j parsed) and its name without storing anything:
 * PX_INVALID with err as px_journey_define gives it, except for rules
 * that compile alone but not joined (past the rule limits). */
px_status px_journey_check(const char *name, const cJSON *j, px_error *err);

/* Deletes the model and its stage segments; PX_NOT_FOUND when there is none. */
px_status px_journey_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms);

/* {"name", "stages": [{"name", "rule", "segment", "profiles"}...]}, the
 * stages in order with the profiles in each now. PX_NOT_FOUND. */
px_status px_journey_get(px_txn *txn, const px_store *st, const char *name, px_buf *out);
/* {"journeys": [as px_journey_get...]} in name order. */
px_status px_journey_list(px_txn *txn, const px_store *st, px_buf *out);

/* A profile's stages in every model: {"MODEL": {"stage": NAME or null,
 * "since": ISO or null, "stays": [{"stage", "entered_at", "left_at" (null
 * while in it), "days" (time in stage, to now for the current one)}...]}},
 * oldest stay first. */
px_status px_journey_of(px_txn *txn, const px_store *st, uint64_t pid, int64_t now_ms, px_buf *out);

/* The funnel of model name over [from_ms, to_ms]: {"journey", "from",
 * "to", "profiles" (live ones looked at), "stages": [{"name", "at_end"
 * (in it at to), "entered" (entered it in the period), "advanced" (of
 * those, reached a later stage after entering, by to), "to_next" (of
 * those, whose next stage was the next one), "conversion" (advanced /
 * entered, null when none entered), "left" (stays that ended in the
 * period), "mean_days" (their mean time in stage, null when none)}...]}.
 * One pass over every live profile's segment history. PX_NOT_FOUND;
 * PX_INVALID when from_ms > to_ms. */
px_status px_journey_funnel(px_txn *txn, const px_store *st, const char *name, int64_t from_ms, int64_t to_ms,
                            px_buf *out);

#endif
