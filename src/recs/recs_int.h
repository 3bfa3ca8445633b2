/* Private to src/recs: the trained model (train.c), read by the queries
 * (query.c) and shared by the server's threads (service.c). */
#ifndef PX_RECS_RECS_INT_H
#define PX_RECS_RECS_INT_H

#include "reco/ids.h"
#include "reco/model.h"
#include "recs/recs.h"

#define RECS_POOL 16 /* idle query objects kept per model */

struct px_recs_model {
  px_recs_def def;
  px_recs_stats stats;
  uint64_t keys[PX_RECS_MAX_INTERACTIONS]; /* the interactions' computed-trait state keys */
  px_reco_ids *items;                      /* item ids <-> the model's indexes */
  px_reco_model *model;
  uint32_t *category; /* per item, its category's number (distinct for items without one); NULL: no cap */
  uint64_t *excluded; /* bitmap over the items: the exclude rule, or catalog_only and not in the catalog */
  /* Per fallback segment of the definition: its id (0: no such segment)
   * and its members' most popular items. */
  uint32_t seg_id[PX_RECS_MAX_SEGMENTS];
  uint32_t *seg_popular[PX_RECS_MAX_SEGMENTS];
  float *seg_score[PX_RECS_MAX_SEGMENTS]; /* the members' summed weights of each */
  size_t seg_n[PX_RECS_MAX_SEGMENTS];
  /* service.c: references and idle query objects, under the service's lock. */
  int refs;
  px_reco_query *pool[RECS_POOL];
  size_t npool;
};

#endif
