/* A small HTTP/1.1 server over libmicrohttpd: one thread per connection
 * (handlers may block until their events are durable), request bodies
 * gathered up to a hard cap (413 past it, checked against Content-Length
 * before reading), gzip request bodies inflated under the same cap. */
#ifndef PX_HTTP_SERVER_H
#define PX_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct px_http px_http;
struct MHD_Connection;

enum { PX_HTTP_ENC_OK, PX_HTTP_ENC_UNSUPPORTED, PX_HTTP_ENC_CORRUPT };

typedef struct px_http_req {
  const char *method;
  const char *path;          /* percent-decoded except %2F, %25, %00 (kept encoded, upper-case) */
  const char *body;          /* NUL-terminated; inflated when it was gzip */
  size_t body_len;
  const char *authorization; /* the header's value, or NULL */
  int body_too_large;        /* the body passed the cap and was not kept */
  int body_bad_encoding;     /* PX_HTTP_ENC_UNSUPPORTED or PX_HTTP_ENC_CORRUPT */
  struct MHD_Connection *conn;
} px_http_req;

typedef struct px_http_resp {
  int status;
  px_buf body;
  const char *content_type; /* default application/json */
  int retry_after;          /* seconds; 0 = no header */
  const char *allow;        /* Allow header for 405, or NULL */
} px_http_resp;

typedef void (*px_http_handler)(void *app, const px_http_req *req, px_http_resp *resp);

/* listen is "HOST:PORT" (port 0 picks a free one; *bound_port receives it). */
px_status px_http_start(const char *listen, size_t max_body, px_http_handler h, void *app,
                        px_http **out, uint16_t *bound_port, px_error *err);
/* Stops accepting, waits up to 10 s for requests in flight, then closes. */
void px_http_stop(px_http *srv);

/* A query-string argument, or NULL. */
const char *px_http_query(const px_http_req *req, const char *name);

#endif
