#include "http/server.h"

#include <microhttpd.h>
#include <ctype.h>
#include <netdb.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "base/log.h"

struct px_http {
  struct MHD_Daemon *d;
  atomic_int inflight; /* requests begun and not yet completed */
  px_http_handler handler;
  void *app;
  size_t max_body;
};

typedef struct conn_state {
  px_buf body;
  int too_large;
} conn_state;

const char *px_http_query(const px_http_req *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Inflates a gzip body into out, refusing to grow past max. */
static px_status gunzip(const char *in, size_t n, size_t max, px_buf *out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return PX_NOMEM;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  char chunk[16384];
  px_status s = PX_OK;
  int rc;
  do {
    z.next_out = (Bytef *)chunk;
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      s = PX_INVALID;
      break;
    }
    size_t got = sizeof chunk - z.avail_out;
    if (out->len + got > max) {
      s = PX_TOO_LARGE;
      break;
    }
    if ((s = px_buf_append(out, chunk, got)) != PX_OK) break;
    if (rc != Z_STREAM_END && z.avail_in == 0 && got == 0) {
      s = PX_INVALID; /* truncated stream */
      break;
    }
  } while (rc != Z_STREAM_END);
  inflateEnd(&z);
  return s;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, px_http_resp *r) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(r->body.len, r->body.data ? r->body.data : (void *)"",
                                      MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
  if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
  if (r->retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof ra, "%d", r->retry_after);
    MHD_add_response_header(resp, "Retry-After", ra);
  }
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  px_http *srv = cls;
  conn_state *cs = *con_cls;
  if (!cs) {
    if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
    atomic_fetch_add(&srv->inflight, 1);
    px_buf_init(&cs->body, srv->max_body);
    *con_cls = cs;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > srv->max_body) cs->too_large = 1;
    return MHD_YES;
  }
  if (*upload_size) {
    if (!cs->too_large && px_buf_append(&cs->body, upload, *upload_size) != PX_OK) {
      cs->too_large = 1;
      px_buf_free(&cs->body);
      px_buf_init(&cs->body, srv->max_body);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  px_http_req req = {.method = method,
                     .path = url,
                     .body = cs->body.data ? cs->body.data : "",
                     .body_len = cs->body.len,
                     .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                  MHD_HTTP_HEADER_AUTHORIZATION),
                     .body_too_large = cs->too_large,
                     .conn = c};
  px_buf inflated;
  px_buf_init(&inflated, srv->max_body);
  const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
  if (enc && !cs->too_large && cs->body.len && strcasecmp(enc, "identity") != 0) {
    if (strcasecmp(enc, "gzip") != 0) {
      req.body_bad_encoding = PX_HTTP_ENC_UNSUPPORTED;
    } else {
      px_status s = gunzip(cs->body.data, cs->body.len, srv->max_body, &inflated);
      if (s == PX_TOO_LARGE) req.body_too_large = 1;
      else if (s != PX_OK) req.body_bad_encoding = PX_HTTP_ENC_CORRUPT;
    }
    req.body = inflated.data ? inflated.data : "";
    req.body_len = inflated.len;
  }
  px_http_resp resp = {.status = 500};
  px_buf_init(&resp.body, 0);
  srv->handler(srv->app, &req, &resp);
  enum MHD_Result ok = send_resp(c, &resp);
  px_buf_free(&resp.body);
  px_buf_free(&inflated);
  return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)c, (void)toe;
  px_http *srv = cls;
  conn_state *cs = *con_cls;
  if (!cs) return;
  atomic_fetch_sub(&srv->inflight, 1);
  px_buf_free(&cs->body);
  free(cs);
  *con_cls = NULL;
}

/* Percent-decodes in place, except %2F, %25 and %00, which stay encoded:
 * handlers tell a "/" inside a path segment from a separator, nothing is
 * decoded twice, and no NUL can cut a path short. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls, (void)c;
  char *w = s;
  for (char *r = s; *r; r++) {
    int hi, lo;
    if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
      int v = hi * 16 + lo;
      if (v == '/' || v == '%' || v == 0) {
        *w++ = '%', *w++ = (char)toupper((unsigned char)r[1]), *w++ = (char)toupper((unsigned char)r[2]);
      } else {
        *w++ = (char)v;
      }
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
  return (size_t)(w - s);
}

static void on_error(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = 0;
  px_log(PX_LOG_WARN, "msg=\"http: %s\"", line);
}

px_status px_http_start(const char *listen, size_t max_body, px_http_handler h, void *app,
                        px_http **out, uint16_t *bound_port, px_error *err) {
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
    return px_error_set(err, PX_USAGE, "listen", "expected HOST:PORT, got \"%s\"", listen);
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = 0;
  char *h0 = host;
  if (h0[0] == '[') { /* [::1]:8080 */
    h0++;
    h0[strcspn(h0, "]")] = 0;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(h0, colon + 1, &hints, &ai);
  if (rc != 0 || !ai)
    return px_error_set(err, PX_USAGE, "listen", "cannot resolve \"%s\": %s", listen, gai_strerror(rc));
  px_http *srv = calloc(1, sizeof *srv);
  if (!srv) {
    freeaddrinfo(ai);
    return PX_NOMEM;
  }
  srv->handler = h;
  srv->app = app;
  srv->max_body = max_body;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                   MHD_USE_ITC |
                   (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_EXTERNAL_LOGGER, on_error, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!srv->d) {
    free(srv);
    return px_error_set(err, PX_IO, "listen", "cannot listen on %s (address in use?)", listen);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
  if (bound_port) *bound_port = info ? info->port : 0;
  *out = srv;
  return PX_OK;
}

void px_http_stop(px_http *srv) {
  if (!srv) return;
  /* Stop accepting, let requests in flight finish (their events may be on
   * their way to durability and deserve their 200), then close. */
  MHD_socket ls = MHD_quiesce_daemon(srv->d);
  if (ls != MHD_INVALID_SOCKET) close(ls);
  for (int i = 0; i < 1000 && atomic_load(&srv->inflight) > 0; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  MHD_stop_daemon(srv->d);
  free(srv);
}
