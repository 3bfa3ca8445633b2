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

void px_obs_observe(px_obs *o, int64_t ts, uint64_t seq);
void px_obs_combine(px_obs *into, const px_obs *from);
void px_trait_key(px_key *k, uint64_t entity, const char *name, uint64_t hash, uint32_t source);
px_status px_profile_put(px_txn *txn, const px_store *st, uint64_t pid, const px_profile_rec *r);

#endif
