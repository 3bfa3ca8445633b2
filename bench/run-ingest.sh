#!/usr/bin/env bash
# HTTP batch ingestion: events/s acknowledged (durable) by `pickaxe serve`.
# Each run starts a fresh server on a fresh data directory, sends the same
# generated batch bodies with px-load, and stops the server; the median of
# RUNS runs is printed. Target: >= 100,000 events/s.
#
# Settings (environment): PICKAXE_BIN (build/pickaxe), BENCH_BIN (build/bench),
# RUNS (5), EVENTS (1000000), PROFILES (100000), BATCH (100 events a request),
# CONNECTIONS (8), DURATION (0: send every body), SEED (1), RESULTS (a folder
# to keep each run's px-load JSON in), KEEP (1: keep the temporary folder).
source "$(dirname "$0")/lib.sh"

EVENTS=${EVENTS:-1000000}
PROFILES=${PROFILES:-100000}
BATCH=${BATCH:-100}
CONNECTIONS=${CONNECTIONS:-8}
DURATION=${DURATION:-0}
TARGET=100000

px_require
px_workdir
bodies="$WORK/bodies.batch"
px_run "$BENCH_BIN/px-gen" --format batch --batch-size "$BATCH" --events "$EVENTS" --profiles "$PROFILES" \
  --seed "$SEED" --out "$bodies" --stats

: >"$WORK/eps" ; : >"$WORK/p99"
for r in $(seq 1 "$RUNS"); do
  data=$(px_new_data "$r")
  key=$(px_source_add "$data" bench)
  px_start_server "$data"
  rc=0
  px_run "$BENCH_BIN/px-load" --file "$bodies" --url "$SERVER_URL" --write-key "$key" \
    --connections "$CONNECTIONS" --duration "$DURATION" --json >"$WORK/run-$r.json" || rc=$?
  px_stop_server
  [ -n "${RESULTS:-}" ] && mkdir -p "$RESULTS" && cp "$WORK/run-$r.json" "$RESULTS/ingest-$r.json"
  json=$(cat "$WORK/run-$r.json")
  eps=$(px_json events_per_s <<<"$json")
  p99=$(px_json p99 latency_ms <<<"$json")
  echo "$eps" >>"$WORK/eps"
  echo "$p99" >>"$WORK/p99"
  printf 'run %d: %s events/s, %s requests/s, latency p50 %s p99 %s max %s ms, retries %s, statuses {%s}%s\n' \
    "$r" "$eps" "$(px_json requests_per_s <<<"$json")" "$(px_json p50 latency_ms <<<"$json")" "$p99" \
    "$(px_json max latency_ms <<<"$json")" "$(px_json retries <<<"$json")" \
    "$(sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' <<<"$json")" "$([ $rc -eq 0 ] || echo ", px-load exit $rc")"
done

eps=$(px_median <"$WORK/eps")
echo "ingest over HTTP: median $eps events/s over $RUNS runs ($EVENTS events, batches of $BATCH, $CONNECTIONS connections); median p99 $(px_median <"$WORK/p99") ms"
echo "target >= $TARGET events/s: $(px_target "$eps" ge $TARGET)"
