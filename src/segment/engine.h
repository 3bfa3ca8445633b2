/* The segment engine: keeps every segment's membership and every computed
 * trait's aggregation current in the same write transaction as the event
 * that changes them, when profiles merge, and when time passes.
 *
 * A per-process registry (kept with the store, px_store_ext) holds the
 * compiled definitions: every segment's rule, every computed trait, and
 * every distinct aggregation under a stable key (XXH64 of its canonical
 * text), under which each profile's aggregation state is stored. It
 * reloads when the log's definition generation moves (px_def_generation),
 * checked once per transaction. With nothing defined an event costs one
 * comparison. The registry is used only by state writers (under the
 * state's write lock). See docs/internals/segment.md. */
#ifndef PX_SEGMENT_ENGINE_H
#define PX_SEGMENT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "compute/compute.h"
#include "config/config.h"
#include "event/event.h"
#include "rule/rule.h"
#include "store/store.h"

/* What an applied event may have changed beyond its aggregations (flags of
 * px_segment_apply). Profile fields (first/last seen, event count) change
 * with any event and are always considered. */
enum {
  PX_SEG_TRAITS = 1, /* traits, consent or account traits (identify, group, alias, context.traits) */
  PX_SEG_MERGED = 2, /* the profile absorbed another: re-evaluate everything */
  PX_SEG_NEW = 4,    /* the event created the profile: evaluate everything ("no event X" holds at once) */
  PX_SEG_IDENTS = 8, /* identifiers were attached to the profile */
};

/* Why a membership changed. */
typedef enum px_seg_cause {
  PX_SEG_CAUSE_EVENT = 0,    /* the event at seq (merges included) */
  PX_SEG_CAUSE_TIME = 1,     /* time passed (px_segment_sweep) */
  PX_SEG_CAUSE_BACKFILL = 2, /* the segment (or what it reads) was defined or changed */
  PX_SEG_CAUSE_DELETED = 3,  /* the segment was deleted */
  PX_SEG_CAUSE_SCORE = 4,    /* a score the rule may read changed (px_segment_reevaluate) */
} px_seg_cause;

const char *px_seg_cause_name(px_seg_cause c); /* "event", "time", "backfill", "deleted", "score" */

/* One entry of a profile's membership history. */
typedef struct px_seg_change {
  uint64_t pid;
  int64_t time_ms; /* the event's receivedAt, the due time, or the definition's time */
  uint32_t segment; /* segment id (px_def.id) */
  int entered;      /* 1 entered, 0 left */
  px_seg_cause cause;
  uint64_t seq;     /* the causing event's seq (PX_SEG_CAUSE_EVENT), else 0 */
} px_seg_change;

/* Called by the pipeline after the event ev was applied to profile pid
 * (and after any merges into it): observes ev on the aggregations (track
 * events with a name), re-evaluates the segments that may have changed,
 * records membership changes and schedules the next time-based change.
 * now is ev->received_ms (deterministic: a replay gives the same result).
 * Changes due before now are processed first, at their due time. */
px_status px_segment_apply(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid, const px_event *ev,
                           unsigned flags);

/* Called by the pipeline after px_profile_merge(survivor, loser): the
 * loser's aggregation states merge into the survivor's, and the loser
 * leaves every segment (history records it, cause ev). The survivor is
 * re-evaluated by the px_segment_apply that follows (PX_SEG_MERGED). */
px_status px_segment_merge(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t survivor, uint64_t loser,
                           const px_event *ev);

/* Time passing: processes up to max (0 = all) profiles due at or before
 * now_ms, oldest due first, each at its due time: expires aggregation
 * states, re-evaluates every segment of the profile, records changes
 * (cause "time") and reschedules. *done (may be NULL) gets how many. */
px_status px_segment_sweep(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms, uint64_t max,
                           uint64_t *done);

/* The earliest due time (INT64_MAX when nothing is due ever). */
px_status px_segment_next_due(px_txn *txn, const px_store *st, int64_t *due_ms);

typedef void (*px_segment_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Defines or changes segment name with a profile rule. Compile errors come
 * back as PX_INVALID with err (line, column, message); a rule that would
 * make segments read each other in a cycle is PX_INVALID too (err->line 0).
 * Stores {"rule": rule_text}; computes the states of aggregations no
 * definition had before by replaying each live profile's events; evaluates
 * the segment, and the segments that read it, over every live profile at
 * now_ms and writes their members (history: cause "backfill"). An
 * unchanged definition changes nothing. progress (may be NULL) is called
 * every 1,000 profiles and at the end. A segment read with "in segment"
 * that does not exist is empty. */
px_status px_segment_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *name,
                            const char *rule_text, int64_t now_ms, px_segment_progress_fn progress, void *arg,
                            px_rule_error *err);

/* Deletes a segment: its members leave (history: cause "deleted"), and the
 * segments that read it are recomputed. PX_NOT_FOUND when there is none. */
px_status px_segment_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms);

/* Defines or changes a computed trait from its JSON definition (n bytes;
 * px_ctrait_parse's format, "name" included): backfills its aggregation if
 * new and recomputes the segments that read computed traits. Errors as
 * px_ctrait_parse gives them (PX_INVALID, err->field). */
px_status px_ctrait_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                           int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err);
px_status px_ctrait_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms);

/* The stored definition of computed trait name, parsed (free with
 * px_ctrait_free). PX_NOT_FOUND for an unknown trait. */
px_status px_ctrait_get(px_txn *txn, const px_store *st, const char *name, px_ctrait *out);

/* The value of a parsed definition t (px_ctrait_get), for readers of many
 * profiles; otherwise as px_ctrait_value. */
px_status px_ctrait_value_of(px_txn *txn, const px_store *st, uint64_t pid, const px_ctrait *t, int64_t now_ms,
                             px_buf *scratch, px_rule_value *out);

/* The key under which profiles keep t's aggregation state, for readers of
 * the raw states of many profiles (the CLV refresh, recommendations). */
px_status px_ctrait_state_key(const px_ctrait *t, uint64_t *key);

/* The raw states of the aggregations keys[0..n) on profile pid into
 * out[0..n) (empty when the profile has none), with one read of its
 * states record; valid until the transaction ends or the next write. */
px_status px_ctrait_states(px_txn *txn, const px_store *st, uint64_t pid, const uint64_t *keys, size_t n,
                           MDB_val *out);

/* px_ctrait_states for every profile that has states, in id order, with
 * one sequential walk (profiles merged into others have none: their
 * states moved to the survivor). fn returns non-zero to stop. */
typedef int (*px_ctrait_states_fn)(void *arg, uint64_t pid, const MDB_val *states);
px_status px_ctrait_states_each(px_txn *txn, const px_store *st, const uint64_t *keys, size_t n,
                                px_ctrait_states_fn fn, void *arg);

/* A computed trait's value on profile pid at now_ms. Strings point into
 * scratch (valid until it changes). PX_NOT_FOUND for an unknown trait. */
px_status px_ctrait_value(px_txn *txn, const px_store *st, uint64_t pid, const char *name, int64_t now_ms,
                          px_buf *scratch, px_rule_value *out);

/* Re-evaluates every segment of profile pid at now_ms because something
 * outside its events changed (its scores: segment/rfm_refresh.h). Changes
 * due before now are processed first, at their due time; then changes
 * are recorded with cause "score" and the next due time is set. Nothing
 * to do with no segment defined. */
px_status px_segment_reevaluate(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid, int64_t now_ms);

/* Whether any segment's rule reads one of the n scores named: a refresh
 * that changed only those need not re-evaluate anyone when none does. */
px_status px_segment_reads_score(px_txn *txn, const px_store *st, const char *const *names, size_t n,
                                 int *reads);

/* A profile's membership history, oldest first; fn returns non-zero to stop. */
typedef int (*px_seg_change_fn)(void *arg, const px_seg_change *c);
px_status px_segment_history(px_txn *txn, const px_store *st, uint64_t pid, px_seg_change_fn fn, void *arg);

/* History order: time, then cause and seq, then segment id (how the
 * history is keyed); <0, 0 or >0 as a sorts before, with or after b. */
int px_seg_change_cmp(const px_seg_change *a, const px_seg_change *b);

/* The history newest first, starting just before at in history order
 * (only its time_ms, cause, seq and segment are read), or at at itself
 * when inclusive and pid has that change; at NULL: from the newest. fn
 * returns non-zero to stop. For readers merging the history with other
 * streams at their own positions (the profile timeline, src/api). */
px_status px_segment_history_before(px_txn *txn, const px_store *st, uint64_t pid, const px_seg_change *at,
                                    int inclusive, px_seg_change_fn fn, void *arg);

/* One page of the history, newest first: up to max changes into out (*n
 * says how many), before cursor (NULL or "": from the newest); next gets
 * the cursor of the following page, "" when this was the last. PX_INVALID
 * for a cursor this function did not give. */
#define PX_SEG_CURSOR_LEN 40
px_status px_segment_history_page(px_txn *txn, const px_store *st, uint64_t pid, const char *cursor, size_t max,
                                  px_seg_change *out, size_t *n, char next[PX_SEG_CURSOR_LEN + 1]);

#endif
