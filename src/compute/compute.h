/* Incremental aggregation over a profile's events: the engine behind
 * computed traits and behaviour conditions ("at least 2 orders in the last
 * 90 days"). A pure library on bytes: the state of one aggregation on one
 * profile is a byte string the caller stores and hands back; this module
 * never touches storage. Semantics, state layout, caps and costs:
 * docs/internals/compute.md.
 *
 * Exactness: the value at time now of an aggregation over window W is the
 * aggregate of exactly the matching events with now - W < ts <= now (all
 * time: ts <= now), whatever order they were observed in and however the
 * states were merged, provided now never goes backwards (the now given to
 * observe/expire is at most the now of later calls) and no cap was hit. */
#ifndef PX_COMPUTE_COMPUTE_H
#define PX_COMPUTE_COMPUTE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "rule/rule.h"

#define PX_AGG_STATE_VERSION 1
#define PX_AGG_MAX_ENTRIES 10000 /* per-event entries a state keeps (window, future-dated) */
#define PX_AGG_MAX_ENTRY_BYTES (1u << 20) /* and their encoded bytes */
#define PX_AGG_MAX_VALUES 1000   /* distinct values tracked (distinct, most_frequent) */
#define PX_AGG_VALUE_MAX 256     /* a value longer than this (as stored) is skipped */
#define PX_AGG_MAX_WINDOW_MS (100LL * 366 * 86400000LL)

/* What px_agg_observe did (bits of *changed). */
enum {
  PX_AGG_TAKEN = 1,     /* the event matched and was taken in: the value may have changed */
  PX_AGG_REWRITTEN = 2, /* the state's bytes changed (store them back) */
};

/* Applies one event (its name, timestamp, log seq and properties) to state
 * if it matches a (event name, where); now_ms is the current time, used to
 * drop what has left the window and to fold future-dated events that have
 * become current. An empty state (len 0) is a profile with no events.
 * *changed (may be NULL) gets PX_AGG_* bits. PX_STORE for a corrupt state
 * (left unchanged), or a state made for another function or windowing. */
px_status px_agg_observe(const px_rule_agg *a, px_buf *state, const char *event_name, int64_t ts_ms,
                         uint64_t seq, const cJSON *properties, int64_t now_ms, int *changed);

/* The earliest event time px_agg_observe can still take in at now_ms:
 * older events of a windowed aggregation can never count (INT64_MIN for an
 * all-time one). A replay from the store may start there. */
int64_t px_agg_oldest(const px_rule_agg *a, int64_t now_ms);

/* Two profiles merged: into becomes the state of observing both profiles'
 * events (other: n bytes of another state of the same aggregation). An
 * event (seq) held per-event by both sides counts once; the all-time
 * aggregates cannot tell, so merging a state with itself double counts
 * (cannot happen in the platform: an event lands on one profile). */
px_status px_agg_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n);

/* The value at now_ms (count/sum/distinct: a number, 0 with no events;
 * avg/min/max: a number or PX_RV_NULL; first/last/most_frequent: the
 * property's value as bool, number or string, or PX_RV_NULL; first/last of
 * no property: PX_RV_TIME, the event's timestamp). *valid_until_ms (may be
 * NULL) gets the first time at or after which the value may differ with no
 * new event (never later than the real change), INT64_MAX if never. A
 * string value points into scratch (valid until scratch changes) or, with
 * scratch NULL, into state (valid while those bytes are). */
px_status px_agg_value(const px_rule_agg *a, const void *state, size_t n, int64_t now_ms, px_rule_value *out,
                       int64_t *valid_until_ms, px_buf *scratch);

/* Compaction at now_ms: drops entries that left the window and folds
 * future-dated events that became current into the all-time aggregate.
 * Never changes the value at now_ms or later. *changed as for observe. */
px_status px_agg_expire(const px_rule_agg *a, px_buf *state, int64_t now_ms, int *changed);

/* Whether the state's bytes are a valid state of a (PX_OK / PX_STORE). */
px_status px_agg_check(const px_rule_agg *a, const void *state, size_t n);

/* One day of a "daily" aggregation's state (function daily: per UTC day,
 * the matching events, those without a numeric property, and the
 * property's sum), for readers of the raw state (the CLV refresh). */
typedef struct px_agg_day {
  int32_t day; /* days since 1970-01-01 */
  uint32_t events, without;
  double sum;
} px_agg_day;
/* The number of days in a daily state (n bytes; 0 for an empty one), day i
 * of it (ascending), and whether a day was left out at the cap
 * (PX_AGG_MAX_ENTRIES days). PX_STORE for a state that is not one. */
px_status px_agg_daily_count(const void *state, size_t n, size_t *days, int *capped);
px_status px_agg_daily_day(const void *state, size_t n, size_t i, px_agg_day *out);

/* One item of an "items" aggregation's state (function items: per item id
 * read from the property, the latest matching event's time and how many
 * matching events named it), for readers of the raw state (the
 * recommendation trainer). */
typedef struct px_agg_item {
  const char *id; /* points into the state (valid while its bytes are); NOT NUL-terminated */
  size_t n;       /* its bytes (1 to PX_AGG_VALUE_MAX) */
  int64_t last_ms;
  uint32_t count; /* at least 1; stays at UINT32_MAX once there */
} px_agg_item;
/* The number of items in an items state (n bytes; 0 for an empty one), and
 * whether the cap was hit (PX_AGG_MAX_ENTRIES items or
 * PX_AGG_MAX_ENTRY_BYTES bytes: the oldest items made way; capped may be
 * NULL). Checks the whole state: PX_STORE for one that is not one. */
px_status px_agg_items_count(const void *state, size_t n, size_t *items, int *capped);
/* Iteration without quadratic cost and without allocation: *pos starts at
 * 0; each call gives the next item in id order (bytewise, a prefix first)
 * and advances *pos; PX_NOT_FOUND at the end. Each call checks what it
 * reads against the item before, so a whole pass checks as much as
 * px_agg_items_count: PX_STORE for a malformed state, at the latest when
 * the end is reached. */
px_status px_agg_items_next(const void *state, size_t n, size_t *pos, px_agg_item *out);

/* Function names as in definitions ("count", "sum", "avg", "min", "max",
 * "first", "last", "distinct", "most_frequent", "decay", "daily",
 * "items"); NULL if unknown. */
const char *px_agg_fn_name(px_agg_fn fn);
px_status px_agg_fn_parse(const char *name, px_agg_fn *out);

/* Windows: "30d", "12h", "45m", "2w" (a positive whole number and a unit).
 * Printed in the largest unit that divides exactly. */
px_status px_agg_window_parse(const char *s, int64_t *out_ms);
void px_agg_window_format(int64_t ms, char out[32]);

/* A declared computed trait. */
typedef struct px_ctrait {
  char name[PX_RULE_NAME_MAX];
  px_rule_agg agg;  /* agg.where is owned by the trait */
  char *where_src;  /* the where rule's text as given (owned), NULL when none */
} px_ctrait;

/* Parses {"name", "function", "event", "property", "where", "window"}:
 * name and function required; event absent or "" = any track event;
 * property required except for count, first and last (for items it may
 * hold one array step: "products[].product_id"); where an event rule
 * (src/rule); window a string as above, or null/absent for all time (not
 * allowed for daily and items); decay takes "events" instead.
 * Unknown members are errors. On error err names the member. On success
 * free *out with px_ctrait_free. */
px_status px_ctrait_parse(const cJSON *def, px_ctrait *out, px_error *err);
void px_ctrait_free(px_ctrait *t);
/* The definition as JSON (members in the order above; absent ones left
 * out), appended to out: parses back to the same definition. */
px_status px_ctrait_print(const px_ctrait *t, px_buf *out);

#endif
