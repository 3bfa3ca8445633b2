/* A minimal HTTP/1.1 client for the drivers: loopback only, keep-alive,
 * one request in flight per connection, deadlines on every step, and
 * responses framed by Content-Length, chunked encoding or connection close. */
#ifndef PX_BENCH_HTTPC_H
#define PX_BENCH_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common.h"

typedef enum px_http_rc {
  PX_HTTP_OK = 0,
  PX_HTTP_ECONNECT, /* could not connect */
  PX_HTTP_ETIMEOUT, /* no complete response before the deadline */
  PX_HTTP_EIO,      /* connection reset or closed before the response ended */
  PX_HTTP_EPARSE,   /* the response is not valid HTTP/1.x */
  PX_HTTP_NRC
} px_http_rc;

/* "ok", "connect", "timeout", "io", "parse". */
const char *px_http_rc_name(int rc);

typedef struct px_url {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  char host_header[80]; /* what goes in Host: "127.0.0.1:8080" */
  char base_path[256];  /* "" or a prefix such as "/api", no trailing slash */
} px_url;

/* Parses http://HOST:PORT[/prefix]. Only loopback hosts are accepted
 * (127.0.0.0/8, localhost, [::1]): the drivers never load anything else.
 * Returns 0, or -1 with a message in err. */
int px_url_parse(const char *s, px_url *u, char *err, size_t errlen);

/* Bodies longer than this are read in full but only this much is kept. */
#define PX_HTTP_BODY_KEEP (1u << 20)

typedef struct px_resp {
  int status;
  int keep_alive;
  long retry_after_s; /* -1 when absent; an HTTP-date counts as 1 */
  const char *body;   /* NUL-terminated; valid until the next call on the connection */
  size_t body_len;    /* the full length, even when truncated */
} px_resp;

typedef struct px_conn {
  const px_url *url; /* borrowed; must outlive the connection */
  int fd;            /* -1 when not connected */
  char *in;
  size_t in_cap, in_len, in_off;
  px_sbuf body;
  size_t rx;         /* bytes received during the current request */
  uint64_t connects;
} px_conn;

void px_conn_init(px_conn *c, const px_url *url);
void px_conn_close(px_conn *c);
void px_conn_free(px_conn *c);

/* Sends the request held in iov and reads the whole response into r.
 * Connects first when needed. When a reused keep-alive connection turns out
 * to be closed before any byte of the response arrived, it reconnects and
 * sends once more. head: the request was HEAD. On any error the connection
 * is closed; it is also closed after a response that does not keep it alive. */
px_http_rc px_conn_roundtrip(px_conn *c, const struct iovec *iov, int iovcnt, int head, uint64_t deadline_ns,
                             px_resp *r);

#endif
