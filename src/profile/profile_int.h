/* Private to the profile module. */
#ifndef PX_PROFILE_PROFILE_INT_H
#define PX_PROFILE_PROFILE_INT_H

#include "profile/profile.h"
#include "store/key.h"

/* One observation of a trait value (per value and source) or account link. */
typedef struct px_obs {
  int64_t first;     /* earliest event timestamp it was observed at */
  int64_t last;      /* latest */
  uint64_t last_seq; /* event seq of the latest observation (tie-break) */
  uint32_t count;
  uint32_t reserved;
} px_obs;

/* One stored observation of a trait value, as the golden-value choice sees it. */
typedef struct px_trait_row {
  uint64_t hash;   /* of the value's JSON */
  uint32_t source;
  int priority;    /* the source's priority (source_priority rule) */
  px_obs o;
  const char *json; /* borrowed from the store until the txn ends or the next write */
  size_t json_len;
} px_trait_row;

/* Chooses a trait's golden value from its rows, given in key order (rows of
 * one value are adjacent), by the trait's survivorship rule. */
typedef struct px_golden {
  px_survivorship rule;
  px_trait_row best, gbest; /* overall; within the current value (most_frequent) */
  uint64_t best_freq, gfreq;
  int have, ghave;
} px_golden;
void px_golden_init(px_golden *g, px_survivorship rule);
void px_golden_add(px_golden *g, const px_trait_row *r);
/* The chosen row, NULL when no row was added. */
const px_trait_row *px_golden_result(px_golden *g);

void px_obs_observe(px_obs *o, int64_t ts, uint64_t seq);
void px_obs_combine(px_obs *into, const px_obs *from);
void px_trait_key(px_key *k, uint64_t entity, const char *name, uint64_t hash, uint32_t source);
/* A profile record in the store: px_profile_rec, then up to
 * PX_COUNTS_INLINE bytes of event-name counts (counts.c). */
#define PX_COUNTS_INLINE 768
#define PX_PROFILE_VALUE_MAX (sizeof(px_profile_rec) + PX_COUNTS_INLINE)

typedef struct px_count {
  char cls; /* 'e' track event, 'p' page, 's' screen */
  const char *name;
  size_t n;
  uint64_t count;
} px_count;

/* The entry at off of a counts tail of len bytes into out; returns the next
 * offset, 0 at the end. */
size_t px_counts_next(const unsigned char *tail, size_t len, size_t off, px_count *out);
/* Adds by to (cls, name) in the tail, appending the entry if new; 0 when it
 * does not fit in cap bytes (then the caller counts it in a row). */
int px_counts_add(unsigned char *tail, size_t *len, size_t cap, char cls, const char *name, size_t n,
                  uint64_t by);
/* Adds by to (cls, name) in the profile's PX_DB_COUNTS row. */
px_status px_counts_add_row(px_txn *txn, const px_store *st, uint64_t pid, char cls, const char *name,
                            size_t n, uint64_t by);

#endif
