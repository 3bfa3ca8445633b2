/* The HTTP API: Segment-compatible collection, profile reads, health and
 * metrics. Documented in docs/openapi.yaml. */
#ifndef PX_API_API_H
#define PX_API_API_H

#include <pthread.h>

#include "config/config.h"
#include "http/server.h"
#include "ingest/writer.h"
#include "metrics/metrics.h"
#include "recs/recs.h"
#include "store/store.h"

typedef struct px_api {
  px_store *st;
  px_writer *writer;
  px_metrics *metrics;
  px_recs_service *recs; /* the recommendation model (NULL: not served); px_api_destroy stops it */
  pthread_rwlock_t cfg_lock; /* guards cfg, reloaded when its stored version changes */
  px_config cfg;
} px_api;

px_status px_api_init(px_api *api, px_store *st, px_writer *w, px_metrics *m);
void px_api_destroy(px_api *api);

/* Ends a profile object rendered into out (px_profile_render) with
 * "segments" (the names of the segments pid is in, name order),
 * "computed" ({name: value at now_ms} of every computed trait: numbers,
 * strings, booleans, times as ISO 8601, null when absent) and "scores"
 * ({"rfm": {"r", "f", "m", "cell", "recency_days", "frequency",
 * "monetary", "refreshed_at"}} when the profile has RFM scores; other
 * scores by name), as GET
 * /v1/profiles/{ref} shows them. Kept here so src/profile does not depend
 * on src/segment. */
px_status px_api_profile_extras(px_txn *txn, const px_store *st, uint64_t pid, int64_t now_ms, px_buf *out);

/* The same for many profiles (an export): the segment and computed-trait
 * definitions read and parsed once by open, then written per profile. */
typedef struct px_api_extras px_api_extras;
px_status px_api_extras_open(px_txn *txn, const px_store *st, px_api_extras **out);
px_status px_api_extras_write(const px_api_extras *x, px_txn *txn, const px_store *st, uint64_t pid,
                              int64_t now_ms, px_buf *out);
void px_api_extras_close(px_api_extras *x);

/* The px_http_handler for the whole API. */
void px_api_handle(void *app, const px_http_req *req, px_http_resp *resp);

#endif
