/* px-read: profile read driver. GET /v1/profiles/{ref} at a fixed request
 * rate (open loop): request k is due at t0 + k/rate whatever happened to
 * the earlier ones, and its latency is measured from that due time, so a
 * slow server's queueing shows in the figures instead of slowing the load.
 * --path and --suffix aim it at other per-ref endpoints: GET
 * {path}{ref}{suffix}, e.g. --path /v1/recommendations/ --suffix '?n=10'. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common.h"
#include "httpc.h"
#include "stats.h"

typedef struct read_cfg {
  px_url url;
  px_sbuf refs;    /* percent-encoded refs, back to back */
  size_t *ref_off; /* nrefs + 1 offsets into refs */
  size_t nrefs;
  char prefix[512], suffix[1024];
  size_t prefix_len, suffix_len;
  double rate, duration_s, warmup_s, timeout_s;
  int connections, json;
  uint64_t seed_mix;
  uint64_t t0, t_measure, t_end, t_hard_stop;
  atomic_uint_fast64_t next;
} read_cfg;

typedef struct worker {
  pthread_t thread;
  read_cfg *cfg;
  px_conn conn;
  px_lat lat, svc;
  px_tally tally;
  uint64_t unsent, t_done;
} worker;

static void usage(void) {
  fputs("usage: px-read --refs FILE --url http://127.0.0.1:PORT --token TOKEN\n"
        "               [--rate R] [--connections C] [--duration S] [--warmup S]\n"
        "               [--path /v1/profiles/] [--suffix STR] [--timeout S] [--seed N] [--json]\n",
        stderr);
  exit(2);
}

/* Unreserved characters plus ':' and '@' stay; everything else is %XX. */
static void encode_ref(px_sbuf *b, px_span s) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.p[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == ':' || c == '@') {
      px_sbuf_putc(b, (char)c);
    } else {
      char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
      px_sbuf_put(b, esc, 3);
    }
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  read_cfg *cfg = w->cfg;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake on time, not up to 50 us late */
  double period_ns = 1e9 / cfg->rate;
  for (;;) {
    uint64_t k = atomic_fetch_add(&cfg->next, 1);
    uint64_t due = cfg->t0 + (uint64_t)((double)k * period_ns);
    if (due >= cfg->t_end) break;
    uint64_t now = px_now_ns();
    if (now >= cfg->t_hard_stop) {
      w->unsent++;
      continue;
    }
    if (now < due) px_sleep_until_ns(due);
    size_t ref = (size_t)(px_mix64(cfg->seed_mix ^ k) % cfg->nrefs);
    struct iovec iov[3] = {
        {cfg->prefix, cfg->prefix_len},
        {cfg->refs.p + cfg->ref_off[ref], cfg->ref_off[ref + 1] - cfg->ref_off[ref]},
        {cfg->suffix, cfg->suffix_len},
    };
    px_resp r;
    uint64_t t_send = px_now_ns();
    px_http_rc rc = px_conn_roundtrip(&w->conn, iov, 3, 0, t_send + (uint64_t)(cfg->timeout_s * 1e9), &r);
    uint64_t t_done = px_now_ns();
    if (due < cfg->t_measure) continue; /* warm-up */
    w->t_done = t_done;
    if (rc != PX_HTTP_OK) {
      w->tally.err[rc]++;
      continue;
    }
    w->tally.status[r.status < 600 ? r.status : 599]++;
    px_lat_add(&w->lat, t_done - due);
    px_lat_add(&w->svc, t_done - t_send);
  }
  return NULL;
}

static void parse_args(int argc, char **argv, read_cfg *cfg) {
  const char *refs = NULL, *url = NULL, *token = NULL, *path = "/v1/profiles/", *after = "";
  long long seed = 1;
  cfg->rate = 1000;
  cfg->duration_s = 10;
  cfg->timeout_s = 10;
  cfg->connections = 8;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--refs")) refs = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--url")) url = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--token")) token = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--path")) path = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--suffix")) after = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--rate")) cfg->rate = px_arg_double(a, px_arg_value(argc, argv, &i), 0.001, 1e7);
    else if (!strcmp(a, "--connections")) cfg->connections = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 1024);
    else if (!strcmp(a, "--duration")) cfg->duration_s = px_arg_double(a, px_arg_value(argc, argv, &i), 0.001, 86400);
    else if (!strcmp(a, "--warmup")) cfg->warmup_s = px_arg_double(a, px_arg_value(argc, argv, &i), 0, 3600);
    else if (!strcmp(a, "--timeout")) cfg->timeout_s = px_arg_double(a, px_arg_value(argc, argv, &i), 0.001, 3600);
    else if (!strcmp(a, "--seed")) seed = px_arg_ll(a, px_arg_value(argc, argv, &i), 0, (1LL << 62));
    else if (!strcmp(a, "--json")) cfg->json = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else px_bench_die("unknown argument '%s' (try --help)", a);
  }
  if (!refs || !url || !token) usage();
  char err[512];
  if (px_url_parse(url, &cfg->url, err, sizeof err) != 0) px_bench_die("%s", err);
  if (strlen(token) > 512 || strlen(path) > 256 || strlen(after) > 256)
    px_bench_die("--token, --path or --suffix too long");
  cfg->seed_mix = px_mix64((uint64_t)seed);

  px_lines lines;
  px_lines_open(&lines, refs);
  cfg->nrefs = lines.n;
  cfg->ref_off = malloc((lines.n + 1) * sizeof *cfg->ref_off);
  if (!cfg->ref_off) px_bench_die("out of memory");
  for (size_t i = 0; i < lines.n; i++) {
    cfg->ref_off[i] = cfg->refs.len;
    encode_ref(&cfg->refs, lines.line[i]);
  }
  cfg->ref_off[lines.n] = cfg->refs.len;
  px_lines_close(&lines);

  cfg->prefix_len = (size_t)snprintf(cfg->prefix, sizeof cfg->prefix, "GET %s%s", cfg->url.base_path, path);
  cfg->suffix_len = (size_t)snprintf(cfg->suffix, sizeof cfg->suffix,
                                     "%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                                     "Accept: application/json\r\nUser-Agent: px-read\r\n\r\n",
                                     after, cfg->url.host_header, token);
}

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  signal(SIGPIPE, SIG_IGN);
  static read_cfg cfg;
  parse_args(argc, argv, &cfg);

  worker *w = calloc((size_t)cfg.connections, sizeof *w);
  if (!w) px_bench_die("out of memory");
  cfg.t0 = px_now_ns() + 20 * 1000000ULL; /* let the threads start first */
  cfg.t_measure = cfg.t0 + (uint64_t)(cfg.warmup_s * 1e9);
  cfg.t_end = cfg.t_measure + (uint64_t)(cfg.duration_s * 1e9);
  cfg.t_hard_stop = cfg.t_end + (uint64_t)((cfg.timeout_s + 5) * 1e9);
  for (int i = 0; i < cfg.connections; i++) {
    w[i].cfg = &cfg;
    w[i].t_done = cfg.t_measure;
    px_conn_init(&w[i].conn, &cfg.url);
    if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) px_bench_die("pthread_create failed");
  }

  worker sum = {0};
  uint64_t t_last = cfg.t_measure, connects = 0;
  for (int i = 0; i < cfg.connections; i++) {
    pthread_join(w[i].thread, NULL);
    px_lat_merge(&sum.lat, &w[i].lat);
    px_lat_merge(&sum.svc, &w[i].svc);
    px_tally_merge(&sum.tally, &w[i].tally);
    sum.unsent += w[i].unsent;
    connects += w[i].conn.connects;
    if (w[i].t_done > t_last) t_last = w[i].t_done;
    px_lat_free(&w[i].lat);
    px_lat_free(&w[i].svc);
    px_conn_free(&w[i].conn);
  }
  double secs = (double)(t_last - cfg.t_measure) / 1e9;
  if (secs < cfg.duration_s) secs = cfg.duration_s;
  uint64_t responses = px_tally_responses(&sum.tally), errors = px_tally_errors(&sum.tally);
  double achieved = (double)responses / secs;
  px_lat_summary ls, ss;
  px_lat_summarize(&sum.lat, &ls);
  px_lat_summarize(&sum.svc, &ss);

  if (cfg.json) {
    printf("{\"tool\":\"px-read\",\"target_rate\":%.1f,\"achieved_rate\":%.1f,\"connections\":%d,"
           "\"measured_s\":%.3f,\"responses\":%llu,\"unsent\":%llu,\"connects\":%llu,",
           cfg.rate, achieved, cfg.connections, secs, (unsigned long long)responses,
           (unsigned long long)sum.unsent, (unsigned long long)connects);
    px_lat_print_json(stdout, "latency_ms", &ls);
    putchar(',');
    px_lat_print_json(stdout, "service_ms", &ss);
    putchar(',');
    px_tally_print_json(stdout, &sum.tally);
    puts("}");
  } else {
    printf("px-read: %.0f requests/s target over %d connections, %.3f s measured\n", cfg.rate, cfg.connections,
           secs);
    printf("  achieved     %.1f responses/s (%llu responses)\n", achieved, (unsigned long long)responses);
    printf("  latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (from the due time)\n",
           ls.p50_ms, ls.p90_ms, ls.p99_ms, ls.p999_ms, ls.max_ms);
    printf("  service ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (from the actual send)\n",
           ss.p50_ms, ss.p90_ms, ss.p99_ms, ss.p999_ms, ss.max_ms);
    printf("  responses    ");
    px_tally_print_human(stdout, &sum.tally);
    printf("\n  unsent %llu; connects %llu\n", (unsigned long long)sum.unsent, (unsigned long long)connects);
  }
  px_lat_free(&sum.lat);
  px_lat_free(&sum.svc);
  px_sbuf_free(&cfg.refs);
  free(cfg.ref_off);
  free(w);
  return errors || sum.unsent ? 1 : 0;
}
