/* Engagement built into the platform (issue 5): a decayed score of each
 * profile's interactions (compute: function "decay", a weight and a
 * half-life per event type) and four tiers, kept current as events arrive
 * and as time passes. The definition
 *
 *   {"events": {"Order Completed": {"weight": 10, "half_life": "30d"},
 *               "Product Viewed": {"weight": 1, "half_life": "7d"},
 *               "*": {"weight": 0.5, "half_life": "7d"}},
 *    "tiers": {"high": 20, "medium": 5, "low": 1}}
 *
 * becomes the computed trait "engagement" and the segments
 * engagement_high (score >= high), engagement_medium, engagement_low and
 * engagement_dormant (score < low, including profiles with no
 * interaction), so a profile is in exactly one tier; rules read the score
 * as computed.engagement and a tier as `in segment engagement_high`. The
 * segment engine works out when each profile's score crosses a tier
 * boundary and moves it then (history cause "time"). See
 * docs/internals/segment.md. */
#ifndef PX_SEGMENT_ENGAGEMENT_H
#define PX_SEGMENT_ENGAGEMENT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "segment/engine.h"
#include "store/store.h"

#define PX_ENGAGEMENT_TRAIT "engagement" /* the computed trait; also the definition's name */
#define PX_ENGAGEMENT_TIERS 4

/* The tiers, best first, and their segments' names. */
const char *px_engagement_tier_name(int i);    /* "high", "medium", "low", "dormant" */
const char *px_engagement_tier_segment(int i); /* "engagement_high", ... */

/* Stores the definition (json: n bytes, as above; tiers optional, those
 * shown by default, high > medium > low > 0) and defines or changes the
 * computed trait and the four segments in txn, backfilled over every
 * profile. PX_INVALID with err->field "engagement.MEMBER". */
px_status px_engagement_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                               int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err);

/* Checks a definition without storing anything (PX_INVALID, err as for
 * px_engagement_define), for callers that check a whole file first. */
px_status px_engagement_check(const cJSON *j, px_error *err);

/* Appends {"definition": {"events", "tiers"}, "tiers": {"high": COUNT, ...}}
 * (members now, per tier). PX_NOT_FOUND when not configured. */
px_status px_engagement_status(px_txn *txn, const px_store *st, px_buf *out);

#endif
