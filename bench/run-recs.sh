#!/usr/bin/env bash
# The platform's recommendations (issue 6, src/recs) on Online Retail,
# served from the store. Loads the data set into a fresh data directory by
# the recipe (examples/online-retail: prepare.mjs, then pickaxe import
# --mapping order-lines.json), applies examples/online-retail/
# recommendations.json (purchases of "Order Line" by stock_code; K 50,
# lambda 5, q 3, recent_items 100), then measures:
#
# (a) training over the store: `pickaxe recommend model --data DIR --json`
#     RUNS times (each a fresh process: the store opened, the model trained
#     in one read transaction as the server does, its figures printed): the
#     model's seconds (reading the interaction states, training, catalog)
#     and the command's wall time; medians;
# (b) per-customer queries in-process: px-recs (bench/bench_recs.c) trains
#     once, then asks for every profile's 10 recommendations PASSES times,
#     each in a read transaction of its own as the server does (begin,
#     px_recs_for_profile with its JSON, abort): p50, p99, max of one query.
#     Target: p99 < 200 us;
# (c) over HTTP: `pickaxe serve`, POST /v1/recommendations/refresh (the
#     model trained), then px-read GET /v1/recommendations/user_id:N?n=10
#     over every profile's user id at RATE for DURATION s (after WARMUP s),
#     HTTP_RUNS runs; latency from each request's due time (open loop).
#     Target: p99 < 1 ms at 5,000 requests/s.
#
# Usage: bench/run-recs.sh [FILE]   (default ../shared/data/online-retail/online_retail.csv.gz)
# Settings (environment): PICKAXE_BIN (build/pickaxe), BENCH_BIN (build/bench),
# RUNS (5: training runs), PASSES (5: px-recs passes over every customer),
# RATE (5000), DURATION (20 s), WARMUP (2 s), CONNECTIONS (8), HTTP_RUNS (3),
# RESULTS (a folder to keep each run's JSON), KEEP (1: keep the temporary
# folder). Needs node (prepare.mjs) and curl.
source "$(dirname "$0")/lib.sh"

FILE=${1:-${FILE:-$PX_ROOT/../shared/data/online-retail/online_retail.csv.gz}}
PASSES=${PASSES:-5}
RATE=${RATE:-5000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-8}
HTTP_RUNS=${HTTP_RUNS:-3}
RECIPE=$PX_ROOT/examples/online-retail

px_require
[ -x "$BENCH_BIN/px-recs" ] || px_fail "no $BENCH_BIN/px-recs (cmake --build build, or set BENCH_BIN)"
[ -r "$FILE" ] || px_fail "cannot read $FILE (the Online Retail data set: ../shared/data/online-retail)"
command -v node >/dev/null || px_fail "node is needed (examples/online-retail/prepare.mjs)"
command -v curl >/dev/null || px_fail "curl is needed (POST /v1/recommendations/refresh)"

px_workdir
keep() { # NAME FILE
  if [ -n "${RESULTS:-}" ]; then
    mkdir -p "$RESULTS"
    cp "$2" "$RESULTS/$1"
  fi
}
m() { px_median <"$WORK/$1"; }
range() { sort -g "$WORK/$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

# Loading, by the recipe.
data=$(px_new_data recs)
px_source_add "$data" online-retail >/dev/null
token=$(px_token_create "$data")
px_log "+ node $RECIPE/prepare.mjs $FILE > $WORK/order-lines.csv"
node "$RECIPE/prepare.mjs" "$FILE" >"$WORK/order-lines.csv" || px_fail "prepare.mjs failed"
px_run "$PICKAXE_BIN" import "$WORK/order-lines.csv" --source online-retail --mapping "$RECIPE/order-lines.json" \
  --data "$data" --json >"$WORK/import.json" || px_fail "pickaxe import failed"
px_log "import: $(cat "$WORK/import.json")"
px_run "$PICKAXE_BIN" apply "$RECIPE/recommendations.json" --data "$data" >&2 || px_fail "pickaxe apply failed"

# (a) training over the store
for f in read train catalog total wall; do : >"$WORK/$f"; done
json=""
for r in $(seq 1 "$RUNS"); do
  json="$WORK/model-$r.json"
  t0=$(date +%s.%N)
  px_run "$PICKAXE_BIN" recommend model --data "$data" --json >"$json" 2>"$WORK/model.err" ||
    px_fail "pickaxe recommend model failed (run $r): $(cat "$WORK/model.err")"
  t1=$(date +%s.%N)
  keep "recs-model-$r.json" "$json"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$WORK/wall"
  for f in read train catalog total; do px_json "$f" seconds <"$json" >>"$WORK/$f"; done
  printf 'model run %d: read %s s, train %s s, catalog %s s, total %s s; command wall %s s\n' "$r" \
    "$(px_json read seconds <"$json")" "$(px_json train seconds <"$json")" "$(px_json catalog seconds <"$json")" \
    "$(px_json total seconds <"$json")" "$(tail -n 1 "$WORK/wall")"
done
printf 'training over the store: %s customers (%s profiles), %s items, %s pairs, %s neighbours kept; median of %s runs:\n' \
  "$(px_json customers <"$json")" "$(px_json profiles <"$json")" "$(px_json items <"$json")" \
  "$(px_json pairs <"$json")" "$(px_json neighbours <"$json")" "$RUNS"
printf '  read %s s, train %s s, catalog %s s, total %s s (runs %s); pickaxe recommend model wall %s s (runs %s)\n' \
  "$(m read)" "$(m train)" "$(m catalog)" "$(m total)" "$(range total)" "$(m wall)" "$(range wall)"
echo "target training in < 1 s: $(px_target "$(m total)" lt 1)"

# (b) per-customer queries in-process
json="$WORK/px-recs.json"
px_run "$BENCH_BIN/px-recs" --data "$data" --passes "$PASSES" --json >"$json" || px_fail "px-recs failed"
keep "recs-inprocess.json" "$json"
sed -n 's/.*"per_pass_us":\[\(.*\)\]}/\1/p' "$json" | sed 's/},{/\n/g' | tr -d '{}"' |
  awk -F '[:,]' '{ printf "  pass %d: p50 %s us, p99 %s us, max %s us\n", NR, $2, $4, $6 }'
p99=$(px_json p99 query_us <"$json")
printf 'in-process: %s queries (%s passes over %s profiles), 10 recommendations each in its own read transaction: p50 %s us, p90 %s us, p99 %s us, p99.9 %s us, max %s us\n' \
  "$(px_json queries <"$json")" "$PASSES" "$(px_json profiles <"$json")" "$(px_json p50 query_us <"$json")" \
  "$(px_json p90 query_us <"$json")" "$p99" "$(px_json p99_9 query_us <"$json")" "$(px_json max query_us <"$json")"
echo "target in-process p99 < 200 us: $(px_target "$p99" lt 200)"

# (c) over HTTP
refs="$WORK/refs.txt"
"$PICKAXE_BIN" export profiles --data "$data" |
  sed -n 's/.*"identifiers":\[{"kind":"user_id","value":"\([^"]*\)".*/user_id:\1/p' >"$refs"
px_log "$(wc -l <"$refs") customer refs"
px_start_server "$data"
px_log "+ curl -X POST $SERVER_URL/v1/recommendations/refresh"
curl -sS --fail -X POST -H "Authorization: Bearer $token" "$SERVER_URL/v1/recommendations/refresh" \
  >"$WORK/refresh.json" || px_fail "POST /v1/recommendations/refresh failed"
px_log "refresh: $(cat "$WORK/refresh.json")"
for f in achieved p50 p99 p999 max; do : >"$WORK/http-$f"; done
for r in $(seq 1 "$HTTP_RUNS"); do
  rc=0
  px_run "$BENCH_BIN/px-read" --refs "$refs" --url "$SERVER_URL" --token "$token" --path /v1/recommendations/ \
    --suffix '?n=10' --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" \
    --seed "$r" --json >"$WORK/http-$r.json" || rc=$?
  keep "recs-http-$r.json" "$WORK/http-$r.json"
  json=$(cat "$WORK/http-$r.json")
  px_json achieved_rate <<<"$json" >>"$WORK/http-achieved"
  px_json p50 latency_ms <<<"$json" >>"$WORK/http-p50"
  px_json p99 latency_ms <<<"$json" >>"$WORK/http-p99"
  px_json p99_9 latency_ms <<<"$json" >>"$WORK/http-p999"
  px_json max latency_ms <<<"$json" >>"$WORK/http-max"
  printf 'http run %d: %s/s achieved, latency p50 %s p90 %s p99 %s p99.9 %s max %s ms (service p99 %s), statuses {%s} errors {%s}%s\n' \
    "$r" "$(px_json achieved_rate <<<"$json")" "$(px_json p50 latency_ms <<<"$json")" \
    "$(px_json p90 latency_ms <<<"$json")" "$(px_json p99 latency_ms <<<"$json")" \
    "$(px_json p99_9 latency_ms <<<"$json")" "$(px_json max latency_ms <<<"$json")" \
    "$(px_json p99 service_ms <<<"$json")" "$(sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' <<<"$json")" \
    "$(sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p' <<<"$json")" "$([ $rc -eq 0 ] || echo ", px-read exit $rc")"
done
px_stop_server
p99=$(m http-p99)
echo "recommendations over HTTP at $RATE/s ($CONNECTIONS connections, ${DURATION}s runs, median of $HTTP_RUNS): achieved $(m http-achieved)/s, p50 $(m http-p50) ms, p99 $p99 ms (runs $(range http-p99)), p99.9 $(m http-p999) ms, max $(m http-max) ms"
echo "target HTTP p99 < 1 ms at 5000/s: $(px_target "$p99" lt 1)$([ "$RATE" = 5000 ] || echo " (measured at $RATE/s)")"
