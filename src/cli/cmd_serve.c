#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "cli/cli.h"
#include "http/server.h"
#include "ingest/writer.h"
#include "source/source.h"

static const char help[] =
    "usage: pickaxe serve [--data DIR] [--listen HOST:PORT] [--queue EVENTS] [--bootstrap]\n"
    "\n"
    "Runs the HTTP API (Segment-compatible collection, profile reads, /healthz,\n"
    "/metrics) and the ingestion pipeline on the data directory.\n"
    "  --data DIR          data directory (default " PX_DEFAULT_DATA ")\n"
    "  --listen HOST:PORT  address to listen on (default " PX_DEFAULT_LISTEN "); port 0 picks one\n"
    "  --queue EVENTS      events that may wait for the writer before 503 (default 50000)\n"
    "  --bootstrap         on an empty directory, create a source \"default\" and an admin\n"
    "                      token and print them\n"
    "Stops cleanly on SIGINT or SIGTERM.\n";

static void bootstrap(px_store *st) {
  px_txn *txn;
  if (px_store_begin(st, 1, &txn) != PX_OK) return;
  px_source *all;
  size_t n = 0;
  if (px_source_list(txn, st, &all, &n) == PX_OK) free(all);
  if (n > 0) {
    px_store_abort(txn);
    return;
  }
  px_source src;
  char key[PX_SECRET_MAX], token[PX_SECRET_MAX];
  if (px_source_add(txn, st, "default", 0, &src, key, NULL) != PX_OK ||
      px_token_create(txn, st, token) != PX_OK) {
    px_store_abort(txn);
    return;
  }
  if (px_store_commit(txn) != PX_OK) return; /* commit frees txn either way */
  printf("created source \"default\"; write key: %s\n", key);
  printf("created admin token: %s\n", token);
  printf("(shown once; stored hashed. More with: pickaxe source add NAME / pickaxe token create)\n");
}

int px_cmd_serve(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *listen = PX_DEFAULT_LISTEN, *queue = NULL;
  int boot = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--listen", &listen) ||
        px_cli_opt(argc, argv, &i, "--queue", &queue))
      continue;
    if (strcmp(argv[i], "--bootstrap") == 0) {
      boot = 1;
      continue;
    }
    return px_cli_fail(PX_EXIT_USAGE, "serve: unknown option %s (see pickaxe serve --help)", argv[i]);
  }
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  if (boot) bootstrap(st);
  if (px_store_state_was_reset(st))
    px_log(PX_LOG_WARN, "msg=\"the machine restarted since the state was written; rebuilding it from the event log\"");
  /* Signals are taken by sigwait below, not by the worker threads. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  px_metrics metrics;
  px_metrics_init(&metrics);
  px_writer_opts wo = {.max_queue_events = queue ? strtoul(queue, NULL, 10) : 0,
                      .min_free_bytes = px_cli_min_free()};
  px_writer *w = NULL;
  px_api api;
  px_http *http = NULL;
  uint16_t port = 0;
  px_error err;
  px_error_clear(&err);
  int rc = PX_EXIT_FAIL;
  if (px_writer_start(st, &metrics, &wo, &w) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "cannot start the writer");
    goto out;
  }
  px_api_init(&api, st, w, &metrics);
  if (px_recs_service_start(st, &api.recs) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "cannot start the recommendations' trainer");
    px_writer_stop(w);
    px_api_destroy(&api);
    goto out;
  }
  px_status s = px_http_start(listen, PX_MAX_REQUEST_BYTES, px_api_handle, &api, &http, &port, &err);
  if (s != PX_OK) {
    px_cli_fail(s == PX_USAGE ? PX_EXIT_USAGE : PX_EXIT_FAIL, "%s", err.reason);
    rc = s == PX_USAGE ? PX_EXIT_USAGE : PX_EXIT_FAIL;
    px_writer_stop(w);
    px_api_destroy(&api);
    goto out;
  }
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
  printf("pickaxe listening on http://%s:%u\n", host, port);
  printf("  send events:   curl -u WRITE_KEY: -H 'Content-Type: application/json' \\\n"
         "                   -d '{\"userId\":\"42\",\"traits\":{\"email\":\"ann@example.com\"}}' "
         "http://%s:%u/v1/identify\n"
         "  read profile:  curl -H 'Authorization: Bearer ADMIN_TOKEN' http://%s:%u/v1/profiles/user_id:42\n"
         "  health:        http://%s:%u/healthz   metrics: http://%s:%u/metrics\n",
         host, port, host, port, host, port, host, port);
  fflush(stdout);
  px_log(PX_LOG_INFO, "msg=\"serving\" data=%s listen=%s:%u", data, host, port);
  int sig = 0;
  sigwait(&sigs, &sig);
  px_log(PX_LOG_INFO, "msg=\"stopping\" signal=%d", sig);
  px_http_stop(http);
  px_writer_stop(w);
  px_api_destroy(&api);
  rc = PX_EXIT_OK;
out:
  px_store_close(st);
  return rc;
}
