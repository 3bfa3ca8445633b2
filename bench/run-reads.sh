#!/usr/bin/env bash
# Profile reads: latency of GET /v1/profiles/user_id:<id> at a fixed rate
# (open loop, latency measured from each request's due time). One server is
# loaded with generated events, then px-read runs RUNS times against it;
# the median of each figure over the runs is printed.
# Target: p99 < 1 ms at 10,000 requests/s.
#
# Settings (environment): PICKAXE_BIN (build/pickaxe), BENCH_BIN (build/bench),
# RUNS (5), RATE (10000), DURATION (20 s a run), WARMUP (2 s, not measured),
# CONNECTIONS (8), EVENTS (500000), PROFILES (100000), SEED (1),
# LOAD_VIA (http: px-load into the running server; import: pickaxe import
# before it starts), RESULTS (a folder to keep each run's JSON), KEEP.
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-10000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-8}
EVENTS=${EVENTS:-500000}
PROFILES=${PROFILES:-100000}
LOAD_VIA=${LOAD_VIA:-http}

px_require
px_workdir
refs="$WORK/refs.txt"
data=$(px_new_data reads)
key=$(px_source_add "$data" bench)
token=$(px_token_create "$data")
if [ "$LOAD_VIA" = import ]; then
  px_run "$BENCH_BIN/px-gen" --format jsonl --events "$EVENTS" --profiles "$PROFILES" --seed "$SEED" \
    --out "$WORK/events.jsonl" --refs "$refs" --stats
  px_run "$PICKAXE_BIN" import "$WORK/events.jsonl" --source bench --data "$data" --json >/dev/null
  px_start_server "$data"
else
  px_run "$BENCH_BIN/px-gen" --format batch --batch-size 100 --events "$EVENTS" --profiles "$PROFILES" \
    --seed "$SEED" --out "$WORK/bodies.batch" --refs "$refs" --stats
  px_start_server "$data"
  px_run "$BENCH_BIN/px-load" --file "$WORK/bodies.batch" --url "$SERVER_URL" --write-key "$key" \
    --connections 4 >&2 || px_fail "loading the events failed"
fi
px_log "$(wc -l <"$refs") profile refs"

for f in achieved p50 p99 p999 max; do : >"$WORK/$f"; done
for r in $(seq 1 "$RUNS"); do
  rc=0
  px_run "$BENCH_BIN/px-read" --refs "$refs" --url "$SERVER_URL" --token "$token" --rate "$RATE" \
    --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" --seed "$r" --json \
    >"$WORK/run-$r.json" || rc=$?
  [ -n "${RESULTS:-}" ] && mkdir -p "$RESULTS" && cp "$WORK/run-$r.json" "$RESULTS/reads-$r.json"
  json=$(cat "$WORK/run-$r.json")
  px_json achieved_rate <<<"$json" >>"$WORK/achieved"
  px_json p50 latency_ms <<<"$json" >>"$WORK/p50"
  px_json p99 latency_ms <<<"$json" >>"$WORK/p99"
  px_json p99_9 latency_ms <<<"$json" >>"$WORK/p999"
  px_json max latency_ms <<<"$json" >>"$WORK/max"
  printf 'run %d: %s/s achieved, latency p50 %s p90 %s p99 %s p99.9 %s max %s ms (service p99 %s), statuses {%s} errors {%s}%s\n' \
    "$r" "$(px_json achieved_rate <<<"$json")" "$(px_json p50 latency_ms <<<"$json")" \
    "$(px_json p90 latency_ms <<<"$json")" "$(px_json p99 latency_ms <<<"$json")" \
    "$(px_json p99_9 latency_ms <<<"$json")" "$(px_json max latency_ms <<<"$json")" \
    "$(px_json p99 service_ms <<<"$json")" "$(sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' <<<"$json")" \
    "$(sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p' <<<"$json")" "$([ $rc -eq 0 ] || echo ", px-read exit $rc")"
done
px_stop_server

p99=$(px_median <"$WORK/p99")
echo "profile reads at $RATE/s ($CONNECTIONS connections, ${DURATION}s runs): median achieved $(px_median <"$WORK/achieved")/s, p50 $(px_median <"$WORK/p50") ms, p99 $p99 ms, p99.9 $(px_median <"$WORK/p999") ms, max $(px_median <"$WORK/max") ms"
echo "target p99 < 1 ms at 10000/s: $(px_target "$p99" lt 1)$([ "$RATE" = 10000 ] || echo " (measured at $RATE/s)")"
