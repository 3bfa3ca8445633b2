/* Private to src/compute: the decoded form of an aggregation's state and
 * its codec (state.c). Layout: docs/internals/compute.md. */
#ifndef PX_COMPUTE_INT_H
#define PX_COMPUTE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "compute/compute.h"

/* A value's stored key: tag byte ('f'/'t' booleans, 'n' + canonical number
 * text, 's' + the string's UTF-8 bytes). Points into the state's bytes or
 * into the event being observed. */
typedef struct cmp_slice {
  const uint8_t *p;
  uint32_t n;
} cmp_slice;

/* One event kept on its own: inside the window, or (all time) future-dated. */
typedef struct cmp_entry {
  int64_t ts;
  uint64_t seq;
  double num;    /* sum/avg/min/max */
  cmp_slice val; /* first/last (with a property), distinct, most_frequent */
} cmp_entry;

/* One tracked value of the all-time distinct/most_frequent table. */
typedef struct cmp_value {
  cmp_slice val;
  uint64_t count;   /* most_frequent */
  int64_t ts;       /* its latest occurrence (most_frequent ties) */
  uint64_t seq;
} cmp_value;

enum {
  CMP_WINDOWED = 1,    /* state flag: entries hold the window (no all-time part) */
  CMP_APPROXIMATE = 2, /* state flag: a cap was hit, the value is approximate */
};

typedef struct cmp_state {
  uint8_t fn, flags;
  /* All-time part (not windowed). n: events folded in (count; the
   * sum/avg/min/max numeric events; first/last: 0 or 1). */
  uint64_t n;
  double x;                /* sum, min or max */
  int64_t ts;              /* first/last: the chosen event */
  uint64_t seq;
  cmp_slice val;
  cmp_value *vals;         /* distinct/most_frequent, sorted by val bytes */
  size_t nvals, capvals;
  cmp_entry *ents;         /* sorted by (ts, seq), no two equal */
  size_t nents, capents;
  size_t ent_bytes;        /* encoded size of ents (bounded by PX_AGG_MAX_ENTRY_BYTES) */
  cmp_value vals_small[4];
  cmp_entry ents_small[8];
} cmp_state;

void cmp_state_init(cmp_state *s, px_agg_fn fn, int windowed);
void cmp_state_free(cmp_state *s);
/* Decodes n bytes (n == 0: empty) for a; the state's slices point into p. */
px_status cmp_decode(const px_rule_agg *a, const void *p, size_t n, cmp_state *s);
/* The most bytes cmp_encode can write for s (0: the empty state, no bytes). */
size_t cmp_encode_bound(const cmp_state *s);
/* Writes s's stored form at out (room for cmp_encode_bound bytes); returns its length. */
size_t cmp_encode(const cmp_state *s, uint8_t *out);
/* Room for one more entry / value (PX_NOMEM). */
px_status cmp_ents_grow(cmp_state *s, size_t more);
px_status cmp_vals_grow(cmp_state *s, size_t more);
/* Encoded size of one entry's payload and timing (an upper bound for ts). */
size_t cmp_entry_size(const cmp_state *s, const cmp_entry *e);

/* State version 2 (fast.c): the layouts edited in place. cmp_fast_kind
 * says which one an aggregation uses (0: the generic codec above). */
enum { CMP_FAST_LIST = 1, CMP_FAST_SET = 2 };
int cmp_fast_kind(const px_rule_agg *a);
/* As px_agg_observe after matching: e carries ts, seq and the number or
 * the value key (distinct). */
px_status cmp_fast_observe(const px_rule_agg *a, px_buf *state, const cmp_entry *e, int64_t now, int *changed);
px_status cmp_fast_expire(const px_rule_agg *a, px_buf *state, int64_t now, int *changed);
px_status cmp_fast_value(const px_rule_agg *a, const void *state, size_t n, int64_t now, px_rule_value *out,
                         int64_t *valid_until);
px_status cmp_fast_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n);
px_status cmp_fast_check(const px_rule_agg *a, const void *state, size_t n);

/* Which payload an entry carries for fn (property "" matters for first/last). */
int cmp_uses_num(px_agg_fn fn);
int cmp_uses_val(const px_rule_agg *a);

int cmp_slice_cmp(cmp_slice a, cmp_slice b);
/* (ts, seq) order. */
static inline int cmp_time_cmp(int64_t ta, uint64_t sa, int64_t tb, uint64_t sb) {
  if (ta != tb) return ta < tb ? -1 : 1;
  return sa < sb ? -1 : sa > sb;
}

/* Decayed scores (decay.c), dispatched to by agg.c for PX_AGG_DECAY. */
px_status cmp_decay_observe(const px_rule_agg *a, px_buf *state, const char *event, int64_t ts, int64_t now,
                            int *changed);
px_status cmp_decay_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n);
px_status cmp_decay_value(const void *state, size_t n, int64_t now, px_rule_value *out, int64_t *until);
px_status cmp_decay_check(const px_rule_agg *a, const void *state, size_t n);
/* The score at t_ms of a non-empty valid state. */
double cmp_decay_at(const void *state, int64_t t_ms);

/* Purchase days (daily.c), dispatched to by agg.c for PX_AGG_DAILY. */
px_status cmp_daily_observe(px_buf *state, int64_t ts, int have, double amount, int *changed);
px_status cmp_daily_merge(px_buf *into, const void *other, size_t n);
px_status cmp_daily_value(const void *state, size_t n, int64_t now, px_rule_value *out, int64_t *until);
px_status cmp_daily_check(const void *state, size_t n);

/* Items (items.c), dispatched to by agg.c for PX_AGG_ITEMS: observe reads
 * the item ids itself (a path with one [] array step yields several) and
 * applies where. */
px_status cmp_items_observe(const px_rule_agg *a, px_buf *state, const char *event, int64_t ts,
                            const cJSON *properties, int *changed);
px_status cmp_items_merge(px_buf *into, const void *other, size_t n);
px_status cmp_items_value(const void *state, size_t n, px_rule_value *out, int64_t *until);
px_status cmp_items_check(const void *state, size_t n);

/* The member at a dotted path of len bytes ("product.category"); NULL if
 * absent or if the path crosses a non-object (agg.c). */
const cJSON *cmp_lookup(const cJSON *props, const char *path, size_t len);

#endif
