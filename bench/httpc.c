#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IN_CAP (64u * 1024u)       /* receive buffer; a header line must fit */
#define MAX_CONTENT (1ULL << 40)   /* larger lengths are taken as malformed */
enum { FILL_EOF = PX_HTTP_NRC + 1 }; /* internal: the peer closed */

const char *px_http_rc_name(int rc) {
  static const char *const names[PX_HTTP_NRC] = {"ok", "connect", "timeout", "io", "parse"};
  return rc >= 0 && rc < PX_HTTP_NRC ? names[rc] : "unknown";
}

static int fail(char *err, size_t errlen, const char *msg, const char *s) {
  snprintf(err, errlen, "%s: '%s'", msg, s);
  return -1;
}

int px_url_parse(const char *s, px_url *u, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  if (strncasecmp(s, "http://", 7) != 0) return fail(err, errlen, "URL must start with http://", s);
  const char *h = s + 7, *h_end;
  char host[64];
  if (*h == '[') {
    h_end = strchr(h, ']');
    if (!h_end) return fail(err, errlen, "unterminated [ in URL", s);
    h++;
  } else {
    h_end = h + strcspn(h, ":/");
  }
  size_t hlen = (size_t)(h_end - h);
  if (hlen == 0 || hlen >= sizeof host) return fail(err, errlen, "bad host in URL", s);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  const char *p = h_end + (*h_end == ']');
  long port = 80;
  if (*p == ':') {
    char *end;
    port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port < 1 || port > 65535) return fail(err, errlen, "bad port in URL", s);
    p = end;
  }
  if (*p && *p != '/') return fail(err, errlen, "bad URL", s);
  size_t plen = strlen(p);
  while (plen && p[plen - 1] == '/') plen--;
  if (plen >= sizeof u->base_path) return fail(err, errlen, "URL path too long", s);
  memcpy(u->base_path, p, plen);

  struct sockaddr_in *v4 = (struct sockaddr_in *)&u->addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&u->addr;
  if (strcasecmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
      return fail(err, errlen, "only loopback (127.0.0.0/8) is allowed", s);
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    u->addr_len = sizeof *v4;
    snprintf(u->host_header, sizeof u->host_header, "%s:%ld", host, port);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return fail(err, errlen, "only loopback ([::1]) is allowed", s);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    u->addr_len = sizeof *v6;
    snprintf(u->host_header, sizeof u->host_header, "[%s]:%ld", host, port);
  } else {
    return fail(err, errlen, "host must be a loopback address or localhost", s);
  }
  return 0;
}

void px_conn_init(px_conn *c, const px_url *url) {
  memset(c, 0, sizeof *c);
  c->url = url;
  c->fd = -1;
  c->in_cap = IN_CAP;
  c->in = malloc(c->in_cap);
  if (!c->in) px_bench_die("out of memory");
}

void px_conn_close(px_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->in_len = c->in_off = 0;
}

void px_conn_free(px_conn *c) {
  px_conn_close(c);
  free(c->in);
  px_sbuf_free(&c->body);
}

/* Waits until fd is ready for ev; 0, or PX_HTTP_ETIMEOUT past the deadline. */
static int wait_fd(int fd, short ev, uint64_t deadline_ns) {
  for (;;) {
    uint64_t now = px_now_ns();
    if (now >= deadline_ns) return PX_HTTP_ETIMEOUT;
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    struct pollfd pfd = {.fd = fd, .events = ev};
    int r = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return PX_HTTP_EIO;
  }
}

static int do_connect(px_conn *c, uint64_t deadline_ns) {
  int fd = socket(c->url->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return PX_HTTP_ECONNECT;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (const struct sockaddr *)&c->url->addr, c->url->addr_len) != 0) {
    int soerr = errno;
    if (soerr == EINPROGRESS) {
      socklen_t len = sizeof soerr;
      if (wait_fd(fd, POLLOUT, deadline_ns) != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = ETIMEDOUT;
    }
    if (soerr) {
      close(fd);
      return PX_HTTP_ECONNECT;
    }
  }
  c->fd = fd;
  c->in_len = c->in_off = 0;
  c->connects++;
  return PX_HTTP_OK;
}

static int send_all(px_conn *c, const struct iovec *iov, int iovcnt, uint64_t deadline_ns) {
  struct iovec v[16];
  if (iovcnt > 16) return PX_HTTP_EPARSE;
  memcpy(v, iov, (size_t)iovcnt * sizeof *v);
  int i = 0;
  while (i < iovcnt) {
    if (v[i].iov_len == 0) {
      i++;
      continue;
    }
    struct msghdr m = {.msg_iov = v + i, .msg_iovlen = (size_t)(iovcnt - i)};
    ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return PX_HTTP_EIO;
      int w = wait_fd(c->fd, POLLOUT, deadline_ns);
      if (w) return w;
      continue;
    }
    size_t n = (size_t)r;
    while (n && i < iovcnt) {
      if (n >= v[i].iov_len) {
        n -= v[i].iov_len;
        i++;
      } else {
        v[i].iov_base = (char *)v[i].iov_base + n;
        v[i].iov_len -= n;
        n = 0;
      }
    }
  }
  return PX_HTTP_OK;
}

/* Reads more bytes into the buffer, compacting it first when full. */
static int fill(px_conn *c, uint64_t deadline_ns) {
  if (c->in_off == c->in_len) {
    c->in_off = c->in_len = 0;
  } else if (c->in_len == c->in_cap && c->in_off > 0) {
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
  }
  if (c->in_len == c->in_cap) return PX_HTTP_EPARSE; /* a line longer than the buffer */
  for (;;) {
    ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (r > 0) {
      c->in_len += (size_t)r;
      c->rx += (size_t)r;
      return PX_HTTP_OK;
    }
    if (r == 0) return FILL_EOF;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return PX_HTTP_EIO;
    int w = wait_fd(c->fd, POLLIN, deadline_ns);
    if (w) return w;
  }
}

/* The next line without its CRLF (or bare LF). Valid until the next read. */
static int read_line(px_conn *c, uint64_t deadline_ns, const char **line, size_t *len) {
  for (;;) {
    const char *start = c->in + c->in_off;
    const char *nl = memchr(start, '\n', c->in_len - c->in_off);
    if (nl) {
      *line = start;
      *len = (size_t)(nl - start);
      if (*len && start[*len - 1] == '\r') (*len)--;
      c->in_off = (size_t)(nl + 1 - c->in);
      return PX_HTTP_OK;
    }
    int rc = fill(c, deadline_ns);
    if (rc == FILL_EOF) return PX_HTTP_EIO;
    if (rc) return rc;
  }
}

static void body_put(px_conn *c, const char *p, size_t n, size_t *total) {
  if (c->body.len < PX_HTTP_BODY_KEEP) {
    size_t room = PX_HTTP_BODY_KEEP - c->body.len;
    px_sbuf_put(&c->body, p, n < room ? n : room);
  }
  *total += n;
}

/* Reads exactly n body bytes, or to the end of the stream when until_eof. */
static int read_body(px_conn *c, uint64_t n, int until_eof, uint64_t deadline_ns, size_t *total) {
  while (until_eof || n > 0) {
    size_t avail = c->in_len - c->in_off;
    if (avail == 0) {
      int rc = fill(c, deadline_ns);
      if (rc == FILL_EOF) return until_eof ? PX_HTTP_OK : PX_HTTP_EIO;
      if (rc) return rc;
      continue;
    }
    size_t take = (!until_eof && n < avail) ? (size_t)n : avail;
    body_put(c, c->in + c->in_off, take, total);
    c->in_off += take;
    if (!until_eof) n -= take;
  }
  return PX_HTTP_OK;
}

static int parse_hex(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < len; i++) {
    char ch = s[i];
    int d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (d < 0) break;
    v = v * 16 + (uint64_t)d;
    if (v > MAX_CONTENT) return -1;
  }
  if (i == 0) return -1;
  for (; i < len; i++) /* only whitespace or a chunk extension may follow */
    if (s[i] == ';') break;
    else if (s[i] != ' ' && s[i] != '\t') return -1;
  *out = v;
  return 0;
}

static int read_chunked(px_conn *c, uint64_t deadline_ns, size_t *total) {
  const char *line;
  size_t len;
  for (;;) {
    int rc = read_line(c, deadline_ns, &line, &len);
    if (rc) return rc;
    uint64_t size;
    if (parse_hex(line, len, &size) != 0) return PX_HTTP_EPARSE;
    if (size == 0) break;
    if ((rc = read_body(c, size, 0, deadline_ns, total))) return rc;
    if ((rc = read_line(c, deadline_ns, &line, &len))) return rc;
    if (len != 0) return PX_HTTP_EPARSE;
  }
  do { /* trailer fields, then the empty line */
    int rc = read_line(c, deadline_ns, &line, &len);
    if (rc) return rc;
  } while (len != 0);
  return PX_HTTP_OK;
}

static int has_token(const char *v, size_t len, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= len; i++)
    if (strncasecmp(v + i, tok, tl) == 0) return 1;
  return 0;
}

static int parse_digits(const char *v, size_t len, uint64_t *out) {
  if (len == 0) return -1;
  uint64_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    n = n * 10 + (uint64_t)(v[i] - '0');
    if (n > MAX_CONTENT) return -1;
  }
  *out = n;
  return 0;
}

typedef struct head_info {
  int chunked, has_length;
  uint64_t length;
} head_info;

/* One header line "Name: value": records what framing and the caller need. */
static int parse_header(const char *line, size_t len, px_resp *r, head_info *h) {
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line) return PX_HTTP_EPARSE;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  size_t vlen = (size_t)(end - v);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
  if (IS("content-length")) {
    uint64_t n;
    if (parse_digits(v, vlen, &n) != 0 || (h->has_length && n != h->length)) return PX_HTTP_EPARSE;
    h->has_length = 1;
    h->length = n;
  } else if (IS("transfer-encoding")) {
    h->chunked = has_token(v, vlen, "chunked");
  } else if (IS("connection")) {
    if (has_token(v, vlen, "close")) r->keep_alive = 0;
    else if (has_token(v, vlen, "keep-alive")) r->keep_alive = 1;
  } else if (IS("retry-after")) {
    uint64_t n;
    r->retry_after_s = parse_digits(v, vlen, &n) == 0 ? (long)(n > 3600 ? 3600 : n) : 1;
  }
#undef IS
  return PX_HTTP_OK;
}

static int read_response(px_conn *c, int head, uint64_t deadline_ns, px_resp *r) {
  head_info h;
  const char *line;
  size_t len;
  for (;;) { /* interim 1xx responses are skipped */
    memset(&h, 0, sizeof h);
    r->retry_after_s = -1;
    int rc = read_line(c, deadline_ns, &line, &len);
    if (rc) return rc;
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ') return PX_HTTP_EPARSE;
    if (line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9')
      return PX_HTTP_EPARSE;
    r->keep_alive = line[7] == '1';
    r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    for (;;) {
      if ((rc = read_line(c, deadline_ns, &line, &len))) return rc;
      if (len == 0) break;
      if ((rc = parse_header(line, len, r, &h))) return rc;
    }
    if (r->status >= 200 || r->status == 101) break;
  }
  size_t total = 0;
  int rc = PX_HTTP_OK;
  if (head || r->status == 204 || r->status == 304) {
  } else if (h.chunked) {
    rc = read_chunked(c, deadline_ns, &total);
  } else if (h.has_length) {
    rc = read_body(c, h.length, 0, deadline_ns, &total);
  } else {
    rc = read_body(c, 0, 1, deadline_ns, &total);
    r->keep_alive = 0;
  }
  r->body = c->body.p ? c->body.p : "";
  r->body_len = total;
  return rc;
}

px_http_rc px_conn_roundtrip(px_conn *c, const struct iovec *iov, int iovcnt, int head, uint64_t deadline_ns,
                             px_resp *r) {
  memset(r, 0, sizeof *r);
  if (c->fd >= 0 && c->in_off != c->in_len) px_conn_close(c); /* unexpected bytes: start afresh */
  int reused = c->fd >= 0;
  for (int attempt = 0;; attempt++) {
    int rc = PX_HTTP_OK;
    if (c->fd < 0 && (rc = do_connect(c, deadline_ns))) return (px_http_rc)rc;
    c->in_len = c->in_off = 0;
    c->rx = 0;
    c->body.len = 0;
    if (c->body.p) c->body.p[0] = '\0';
    rc = send_all(c, iov, iovcnt, deadline_ns);
    if (rc == PX_HTTP_OK) rc = read_response(c, head, deadline_ns, r);
    if (rc == PX_HTTP_OK) {
      if (!r->keep_alive) px_conn_close(c);
      return PX_HTTP_OK;
    }
    int got_bytes = c->rx > 0;
    px_conn_close(c);
    /* A keep-alive connection the server closed while idle: try once more. */
    if (rc == PX_HTTP_EIO && reused && !got_bytes && attempt == 0) {
      reused = 0;
      continue;
    }
    return (px_http_rc)rc;
  }
}
