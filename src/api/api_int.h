/* Private to the api module. */
#ifndef PX_API_API_INT_H
#define PX_API_API_INT_H

#include "api/api.h"
#include "source/source.h"

/* Writes {"success":false,"error":...,"field":...,"reason":...[,"offset":N]}. */
void px_api_error(px_http_resp *resp, int status, const char *error, const px_error *detail);

/* The secret of an Authorization header: the user name of HTTP Basic, or a
 * Bearer token. Returns its length (0 when there is none). */
size_t px_api_credential(const char *auth, char *out, size_t outn);

/* Authenticates the request; on failure fills resp (401/403) and returns 0. */
int px_api_auth(px_api *api, px_txn *txn, const char *secret, size_t n, px_key_kind want,
                px_http_resp *resp, px_principal *who);

/* Takes the configuration for reading (reloading it first when it changed). */
const px_config *px_api_config_acquire(px_api *api, px_txn *txn);
void px_api_config_release(px_api *api);

void px_api_collect(px_api *api, const px_http_req *req, const char *what, px_http_resp *resp);
void px_api_profiles(px_api *api, const px_http_req *req, const char *rest, px_http_resp *resp);
void px_api_metrics(px_api *api, px_http_resp *resp);

#endif
