/* px-load: HTTP batch ingestion driver. Sends the batch bodies of a file
 * (one JSON document a line, as px-gen --format batch writes them) to
 * POST /v1/batch over keep-alive connections, one thread per connection,
 * each waiting for its response, and reports throughput and latency. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "httpc.h"
#include "stats.h"

typedef struct load_cfg {
  px_url url;
  px_lines bodies;
  uint32_t *events; /* events in each body */
  size_t nbodies;   /* how many of the bodies to send */
  char head_prefix[1024];
  size_t head_prefix_len;
  int connections, max_retries, json;
  double duration_s, timeout_s;
  uint64_t t_start, t_stop; /* t_stop: 0 when unbounded in time */
  atomic_size_t next;
  atomic_int aborted; /* a body ran out of retries on transport errors: the server is gone */
} load_cfg;

typedef struct worker {
  pthread_t thread;
  load_cfg *cfg;
  px_conn conn;
  px_lat lat;
  px_tally tally;
  uint64_t bodies_ok, bodies_failed, bodies_abandoned, events_ok, accepted;
  uint64_t retries_overload, retries_transport;
  uint64_t t_done;
  char refusal[240]; /* the first response that refused a body, for diagnosis */
} worker;

static void usage(void) {
  fputs("usage: px-load --file BODIES --url http://127.0.0.1:PORT --write-key KEY\n"
        "               [--connections C] [--duration S] [--bodies N] [--path /v1/batch]\n"
        "               [--timeout S] [--max-retries N] [--json]\n",
        stderr);
  exit(2);
}

/* Counts the objects of the top-level array member ("batch") of a body. */
static uint32_t count_events(px_span s) {
  int depth = 0, in_str = 0, esc = 0, array_at_1 = 0;
  uint32_t n = 0;
  for (size_t i = 0; i < s.len; i++) {
    char ch = s.p[i];
    if (in_str) {
      if (esc) esc = 0;
      else if (ch == '\\') esc = 1;
      else if (ch == '"') in_str = 0;
      continue;
    }
    if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      depth++;
      if (depth == 2) array_at_1 = ch == '[';
      if (depth == 3 && array_at_1 && ch == '{') n++;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return n;
}

static void base64(const char *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
    if (i + 2 < n) v |= (uint32_t)(unsigned char)in[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = '\0';
}

static uint64_t parse_accepted(const char *body) {
  const char *p = strstr(body, "\"accepted\"");
  if (!p) return 0;
  p += 10;
  while (*p == ' ' || *p == ':' || *p == '\t') p++;
  return strtoull(p, NULL, 10);
}

/* Sleeps s seconds unless that would end past the run's end: then returns 0. */
static int backoff(const load_cfg *cfg, double s) {
  uint64_t until = px_now_ns() + (uint64_t)(s * 1e9);
  if (cfg->t_stop && until >= cfg->t_stop) return 0;
  px_sleep_until_ns(until);
  return 1;
}

/* Sends one body until it is acknowledged, refused or out of retries. */
static void send_body(worker *w, size_t idx) {
  load_cfg *cfg = w->cfg;
  px_span body = cfg->bodies.line[idx];
  char head[1100];
  memcpy(head, cfg->head_prefix, cfg->head_prefix_len);
  int hl = snprintf(head + cfg->head_prefix_len, sizeof head - cfg->head_prefix_len, "%zu\r\n\r\n", body.len);
  struct iovec iov[2] = {{head, cfg->head_prefix_len + (size_t)hl}, {(void *)body.p, body.len}};
  for (int attempt = 0;; attempt++) {
    px_resp r;
    uint64_t t0 = px_now_ns();
    px_http_rc rc = px_conn_roundtrip(&w->conn, iov, 2, 0, t0 + (uint64_t)(cfg->timeout_s * 1e9), &r);
    uint64_t t1 = px_now_ns();
    w->t_done = t1;
    double wait_s;
    if (rc == PX_HTTP_OK) {
      px_lat_add(&w->lat, t1 - t0);
      w->tally.status[r.status < 600 ? r.status : 599]++;
      if (r.status == 200) {
        w->bodies_ok++;
        w->events_ok += cfg->events[idx];
        w->accepted += parse_accepted(r.body);
        return;
      }
      if (r.status != 503 && r.status != 429) {
        w->bodies_failed++;
        if (!w->refusal[0]) snprintf(w->refusal, sizeof w->refusal, "%d %.200s", r.status, r.body);
        return;
      }
      wait_s = r.retry_after_s >= 0 ? (double)r.retry_after_s : 1.0;
    } else {
      w->tally.err[rc]++;
      wait_s = 0.05 * (attempt + 1);
    }
    if (attempt >= cfg->max_retries) {
      w->bodies_failed++;
      if (rc != PX_HTTP_OK) atomic_store(&cfg->aborted, 1);
      return;
    }
    if (atomic_load(&cfg->aborted) || !backoff(cfg, wait_s)) {
      w->bodies_abandoned++;
      return;
    }
    if (rc == PX_HTTP_OK) w->retries_overload++;
    else w->retries_transport++;
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  load_cfg *cfg = w->cfg;
  for (;;) {
    if ((cfg->t_stop && px_now_ns() >= cfg->t_stop) || atomic_load(&cfg->aborted)) break;
    size_t idx = atomic_fetch_add(&cfg->next, 1);
    if (idx >= cfg->nbodies) break;
    send_body(w, idx);
  }
  return NULL;
}

static void parse_args(int argc, char **argv, load_cfg *cfg) {
  const char *file = NULL, *url = NULL, *key = NULL, *path = "/v1/batch";
  long long nbodies = 0;
  cfg->connections = 4;
  cfg->timeout_s = 30;
  cfg->max_retries = 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--file")) file = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--url")) url = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--write-key")) key = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--path")) path = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--connections")) cfg->connections = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 1024);
    else if (!strcmp(a, "--duration")) cfg->duration_s = px_arg_double(a, px_arg_value(argc, argv, &i), 0, 86400);
    else if (!strcmp(a, "--bodies")) nbodies = px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1LL << 40);
    else if (!strcmp(a, "--timeout")) cfg->timeout_s = px_arg_double(a, px_arg_value(argc, argv, &i), 0.001, 3600);
    else if (!strcmp(a, "--max-retries"))
      cfg->max_retries = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1000000);
    else if (!strcmp(a, "--json")) cfg->json = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else if (a[0] != '-' && !file) file = a;
    else px_bench_die("unknown argument '%s' (try --help)", a);
  }
  if (!file || !url || !key) usage();
  char err[512];
  if (px_url_parse(url, &cfg->url, err, sizeof err) != 0) px_bench_die("%s", err);
  if (strlen(key) > 256 || strlen(path) > 256) px_bench_die("--write-key or --path too long");

  px_lines_open(&cfg->bodies, file);
  cfg->nbodies = nbodies && (size_t)nbodies < cfg->bodies.n ? (size_t)nbodies : cfg->bodies.n;
  cfg->events = malloc(cfg->nbodies * sizeof *cfg->events);
  if (!cfg->events) px_bench_die("out of memory");
  for (size_t i = 0; i < cfg->nbodies; i++) cfg->events[i] = count_events(cfg->bodies.line[i]);

  char cred[300], b64[420];
  int n = snprintf(cred, sizeof cred, "%s:", key);
  base64(cred, (size_t)n, b64);
  n = snprintf(cfg->head_prefix, sizeof cfg->head_prefix,
               "POST %s%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"
               "Content-Type: application/json\r\nUser-Agent: px-load\r\nContent-Length: ",
               cfg->url.base_path, path, cfg->url.host_header, b64);
  cfg->head_prefix_len = (size_t)n;
}

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  signal(SIGPIPE, SIG_IGN);
  static load_cfg cfg;
  parse_args(argc, argv, &cfg);

  worker *w = calloc((size_t)cfg.connections, sizeof *w);
  if (!w) px_bench_die("out of memory");
  cfg.t_start = px_now_ns();
  cfg.t_stop = cfg.duration_s > 0 ? cfg.t_start + (uint64_t)(cfg.duration_s * 1e9) : 0;
  for (int i = 0; i < cfg.connections; i++) {
    w[i].cfg = &cfg;
    w[i].t_done = cfg.t_start;
    px_conn_init(&w[i].conn, &cfg.url);
    if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) px_bench_die("pthread_create failed");
  }

  worker sum = {0};
  uint64_t t_end = cfg.t_start, connects = 0;
  for (int i = 0; i < cfg.connections; i++) {
    pthread_join(w[i].thread, NULL);
    px_lat_merge(&sum.lat, &w[i].lat);
    px_tally_merge(&sum.tally, &w[i].tally);
    sum.bodies_ok += w[i].bodies_ok;
    sum.bodies_failed += w[i].bodies_failed;
    sum.bodies_abandoned += w[i].bodies_abandoned;
    sum.events_ok += w[i].events_ok;
    sum.accepted += w[i].accepted;
    sum.retries_overload += w[i].retries_overload;
    sum.retries_transport += w[i].retries_transport;
    connects += w[i].conn.connects;
    if (w[i].t_done > t_end) t_end = w[i].t_done;
    if (!sum.refusal[0]) memcpy(sum.refusal, w[i].refusal, sizeof sum.refusal);
    px_lat_free(&w[i].lat);
    px_conn_free(&w[i].conn);
  }
  size_t taken = atomic_load(&cfg.next);
  uint64_t unsent = taken < cfg.nbodies ? cfg.nbodies - taken : 0;
  double secs = (double)(t_end - cfg.t_start) / 1e9;
  if (secs <= 0) secs = 1e-9;
  uint64_t requests = px_tally_responses(&sum.tally);
  px_lat_summary ls;
  px_lat_summarize(&sum.lat, &ls);
  double eps = (double)sum.events_ok / secs, rps = (double)requests / secs;
  uint64_t retries = sum.retries_overload + sum.retries_transport;

  if (cfg.json) {
    printf("{\"tool\":\"px-load\",\"connections\":%d,\"elapsed_s\":%.3f,\"bodies\":%zu,\"bodies_ok\":%llu,"
           "\"bodies_failed\":%llu,\"bodies_abandoned\":%llu,\"bodies_unsent\":%llu,\"events_ok\":%llu,"
           "\"events_accepted\":%llu,\"events_per_s\":%.1f,\"requests\":%llu,\"requests_per_s\":%.1f,"
           "\"retries\":%llu,\"retries_overload\":%llu,\"retries_transport\":%llu,\"connects\":%llu,"
           "\"aborted\":%s,",
           cfg.connections, secs, cfg.nbodies, (unsigned long long)sum.bodies_ok,
           (unsigned long long)sum.bodies_failed, (unsigned long long)sum.bodies_abandoned,
           (unsigned long long)unsent, (unsigned long long)sum.events_ok, (unsigned long long)sum.accepted, eps,
           (unsigned long long)requests, rps, (unsigned long long)retries, (unsigned long long)sum.retries_overload,
           (unsigned long long)sum.retries_transport, (unsigned long long)connects,
           atomic_load(&cfg.aborted) ? "true" : "false");
    px_lat_print_json(stdout, "latency_ms", &ls);
    putchar(',');
    px_tally_print_json(stdout, &sum.tally);
    if (sum.refusal[0]) {
      px_sbuf esc = {0};
      px_sbuf_json_str(&esc, sum.refusal);
      printf(",\"first_refusal\":%s", esc.p);
      px_sbuf_free(&esc);
    }
    puts("}");
  } else {
    printf("px-load: %llu of %zu bodies acknowledged over %d connections in %.3f s\n",
           (unsigned long long)sum.bodies_ok, cfg.nbodies, cfg.connections, secs);
    printf("  events/s     %.1f  (%llu events acknowledged; server counted %llu accepted)\n", eps,
           (unsigned long long)sum.events_ok, (unsigned long long)sum.accepted);
    printf("  requests/s   %.1f  (%llu responses)\n", rps, (unsigned long long)requests);
    printf("  latency ms   p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (mean %.3f)\n", ls.p50_ms, ls.p90_ms,
           ls.p99_ms, ls.max_ms, ls.mean_ms);
    printf("  responses    ");
    px_tally_print_human(stdout, &sum.tally);
    printf("\n  retries      %llu (after 503/429: %llu, after transport errors: %llu)\n",
           (unsigned long long)retries, (unsigned long long)sum.retries_overload,
           (unsigned long long)sum.retries_transport);
    printf("  not acknowledged: failed %llu, abandoned (deadline or abort) %llu, unsent %llu; connects %llu\n",
           (unsigned long long)sum.bodies_failed, (unsigned long long)sum.bodies_abandoned,
           (unsigned long long)unsent, (unsigned long long)connects);
    if (sum.refusal[0]) printf("  first refusal: %s\n", sum.refusal);
    if (atomic_load(&cfg.aborted)) printf("  aborted: a body got no response after %d retries\n", cfg.max_retries);
  }
  px_lat_free(&sum.lat);
  free(cfg.events);
  free(w);
  px_lines_close(&cfg.bodies);
  return sum.bodies_failed ? 1 : 0;
}
