/* Private to the api module. */
#ifndef PX_API_API_INT_H
#define PX_API_API_INT_H

#include "api/api.h"
#include "catalog/catalog.h"
#include "source/source.h"

/* A definition's backfill progress (px_segment_progress_fn, arg: the
 * px_api) into the backfill gauges of /metrics. */
void px_api_backfill_progress(void *api, uint64_t done, uint64_t total);

/* Writes {"success":false,"error":...,"field":...,"reason":...[,"offset":N]}. */
void px_api_error(px_http_resp *resp, int status, const char *error, const px_error *detail);
/* 405 naming the methods allowed (also sent as the Allow header). */
void px_api_not_allowed(px_http_resp *resp, const char *allow);

/* The secret of an Authorization header: the user name of HTTP Basic, or a
 * Bearer token. Returns its length (0 when there is none). */
size_t px_api_credential(const char *auth, char *out, size_t outn);

/* Authenticates the request; on failure fills resp (401/403) and returns 0. */
int px_api_auth(px_api *api, px_txn *txn, const char *secret, size_t n, px_key_kind want,
                px_http_resp *resp, px_principal *who);

/* Takes the configuration for reading (reloading it first when it changed). */
const px_config *px_api_config_acquire(px_api *api, px_txn *txn);
void px_api_config_release(px_api *api);

/* Begins a transaction (mode as px_store_begin) for an admin request: the
 * token is checked first in a read transaction, so a request without one
 * never waits for the write lock; so is, for a write, a body over the
 * HTTP layer's cap (413). NULL when resp was filled (401/403/413/500). */
px_txn *px_api_admin_begin(px_api *api, const px_http_req *req, int mode, px_http_resp *resp);

/* Copies the first segment of a path (rest) into ref (n bytes, cut to fit),
 * decoding the %2F and %25 the HTTP layer kept encoded (%00 stays as text:
 * an identifier holds no NUL). Returns what follows its '/', NULL when it
 * is the last segment. */
const char *px_api_path_segment(const char *rest, char *ref, size_t n);

/* A product id from a path segment or a query value (s: sn bytes): the HTTP
 * layer decoded all but %2F, %25 and %00, decoded here (%00 is a NUL, which
 * no id holds) into id (*n bytes, NUL-terminated). 0 after a 400 naming
 * field (products.c). */
int px_api_product_id(const char *s, size_t sn, char id[PX_PRODUCT_ID_MAX + 1], size_t *n, const char *field,
                      px_http_resp *resp);

/* A query's limit, strictly: absent gives def, digits in [1, max] their
 * value, anything else 0. */
int px_api_parse_limit(const char *s, int def, int max);

/* Writes {"success":false,"error":...,"field":...,"reason":...} from plain text. */
void px_api_fail(px_http_resp *resp, int status, const char *error, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

void px_api_collect(px_api *api, const px_http_req *req, const char *what, px_http_resp *resp);
void px_api_profiles(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
void px_api_metrics(px_api *api, px_http_resp *resp);

/* /v1/segments[/{name}[/members]] (rest: after "/v1/segments") and
 * /v1/audiences/{count,members} (segments.c). */
void px_api_segments(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
void px_api_audiences(px_api *api, const px_http_req *req, const char *what, px_http_resp *resp);
/* /v1/computed-traits[/{name}] (rest: after "/v1/computed-traits"; computed.c). */
void px_api_ctraits(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
/* /v1/scores/rfm and /v1/scores/rfm/refresh (rest: after "/v1/scores"; scores.c). */
void px_api_scores(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
/* /v1/journeys and /v1/journeys/{name}[/funnel] (rest: after "/v1/journeys"; journeys.c). */
void px_api_journeys(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
/* /v1/products[/batch|/{id}] (rest: after "/v1/products"; products.c). */
void px_api_products(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
/* /v1/recommendations[/{ref}|/refresh] (rest: after "/v1/recommendations") and
 * /v1/items/{id}/similar (rest: after "/v1/items"; recs.c). */
void px_api_recs(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
void px_api_items(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);


#endif
