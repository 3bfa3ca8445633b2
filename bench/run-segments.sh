#!/usr/bin/env bash
# Segments and computed traits (issue 4). Three figures, each the median of
# RUNS runs:
#
# 1. Added cost per ingested event with 100 segments and 50 computed traits
#    (bench/segment-defs.mjs) kept current: the same px-gen stream imported
#    into a fresh data directory with nothing defined and after `pickaxe
#    apply`, timed from start to exit; (defs - none) / events, for the whole
#    stream (from empty: every new profile evaluates all 100 segments) and
#    for its last TAIL events (profiles mostly known: the steady state).
#    Target: <= 5 us per event.
# 2. Backfill of a new segment over PROFILES_BF customers
#    (bench/profiles-jsonl.mjs, two computed traits defined before the
#    import): `pickaxe segment create` timed from start to exit, on a fresh
#    copy of the loaded store each run, for a rule over a computed trait, a
#    rule over traits, and a rule with an aggregation nothing had yet (every
#    customer's events replayed). Target: < 1 s.
# 3. Count of a segment: GET /v1/segments/{name} (its count) at RATE
#    requests/s for DURATION s against a server on the backfill store, with
#    px-read (open loop). Target: < 1 ms.
#
# Settings (environment): PICKAXE_BIN, BENCH_BIN, RUNS (3), EVENTS (1000000),
# PROFILES (100000), TAIL (100000), PROFILES_BF (1000000), RATE (2000),
# DURATION (10), SEED (1), KEEP. The clock is pinned (PICKAXE_NOW) at the
# end of the generated period so that windows hold events.
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
EVENTS=${EVENTS:-1000000}
PROFILES=${PROFILES:-100000}
TAIL=${TAIL:-100000}
PROFILES_BF=${PROFILES_BF:-1000000}
RATE=${RATE:-2000}
DURATION=${DURATION:-10}
export PICKAXE_NOW=2024-04-01T00:00:00Z

command -v node >/dev/null || px_fail "node is needed for the definition and customer generators"
px_require
px_workdir

# Seconds of wall time and of CPU (user + system) of one command: "WALL CPU".
timed() {
  local out="$WORK/time.out"
  /usr/bin/time -f '%e %U %S' -o "$out" "$@" >/dev/null || px_fail "failed: $*"
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$out"
}

# ---- 1. cost per event ----
head_n=$((EVENTS - TAIL))
px_run "$BENCH_BIN/px-gen" --format jsonl --events "$EVENTS" --profiles "$PROFILES" --seed "$SEED" \
  --out "$WORK/events.jsonl"
head -n "$head_n" "$WORK/events.jsonl" >"$WORK/head.jsonl"
tail -n "$TAIL" "$WORK/events.jsonl" >"$WORK/tail.jsonl"
rm "$WORK/events.jsonl"
node "$PX_ROOT/bench/segment-defs.mjs" >"$WORK/defs.json"
cat "$WORK/head.jsonl" "$WORK/tail.jsonl" >/dev/null
sync

: >"$WORK/whole"
: >"$WORK/whole_cpu"
: >"$WORK/tail"
: >"$WORK/tail_cpu"
for r in $(seq 1 "$RUNS"); do
  for mode in none defs; do
    data=$(px_new_data "$mode-$r")
    px_source_add "$data" bench >/dev/null
    [ "$mode" = defs ] && "$PICKAXE_BIN" apply "$WORK/defs.json" --data "$data" >/dev/null
    sync
    px_log "+ $PICKAXE_BIN import head.jsonl, then tail.jsonl --source bench --data $data ($mode)"
    read -r hw hc < <(timed "$PICKAXE_BIN" import "$WORK/head.jsonl" --source bench --data "$data" --json)
    read -r tw tc < <(timed "$PICKAXE_BIN" import "$WORK/tail.jsonl" --source bench --data "$data" --json)
    printf '%s %s %s %s %s\n' "$mode" "$hw" "$hc" "$tw" "$tc" >>"$WORK/run-$r"
    rm -rf "$data"
  done
  read -r _ nhw nhc ntw ntc < <(grep '^none' "$WORK/run-$r")
  read -r _ dhw dhc dtw dtc < <(grep '^defs' "$WORK/run-$r")
  awk -v a="$nhw" -v b="$ntw" -v c="$dhw" -v d="$dtw" -v n="$EVENTS" \
    'BEGIN { printf "%.3f\n", ((c + d) - (a + b)) / n * 1e6 }' >>"$WORK/whole"
  awk -v a="$nhc" -v b="$ntc" -v c="$dhc" -v d="$dtc" -v n="$EVENTS" \
    'BEGIN { printf "%.3f\n", ((c + d) - (a + b)) / n * 1e6 }' >>"$WORK/whole_cpu"
  awk -v a="$ntw" -v b="$dtw" -v n="$TAIL" 'BEGIN { printf "%.3f\n", (b - a) / n * 1e6 }' >>"$WORK/tail"
  awk -v a="$ntc" -v b="$dtc" -v n="$TAIL" 'BEGIN { printf "%.3f\n", (b - a) / n * 1e6 }' >>"$WORK/tail_cpu"
  printf 'run %d: import without definitions %.2f + %.2f s, with %.2f + %.2f s (head + tail); added per event: whole %s us (cpu %s), tail %s us (cpu %s)\n' \
    "$r" "$nhw" "$ntw" "$dhw" "$dtw" "$(tail -n 1 "$WORK/whole")" "$(tail -n 1 "$WORK/whole_cpu")" \
    "$(tail -n 1 "$WORK/tail")" "$(tail -n 1 "$WORK/tail_cpu")"
done
rm "$WORK/head.jsonl" "$WORK/tail.jsonl"
whole=$(px_median <"$WORK/whole")
tailv=$(px_median <"$WORK/tail")
echo "added per event, 100 segments + 50 computed traits: median $whole us over the whole $EVENTS-event stream" \
  "(cpu $(px_median <"$WORK/whole_cpu") us), $tailv us over its last $TAIL events (cpu $(px_median <"$WORK/tail_cpu") us)"
echo "target <= 5 us: whole stream $(px_target "$whole" lt 5.0001), steady state $(px_target "$tailv" lt 5.0001)"

# ---- 2. backfill ----
base=$(px_new_data backfill)
px_source_add "$base" crm >/dev/null
printf '%s\n' '{"computed_traits":[{"name":"orders","function":"count","event":"Order Completed"},' \
  '{"name":"revenue","function":"sum","event":"Order Completed","property":"revenue"}]}' >"$WORK/bf-defs.json"
"$PICKAXE_BIN" apply "$WORK/bf-defs.json" --data "$base" >/dev/null
px_log "+ node bench/profiles-jsonl.mjs $PROFILES_BF | $PICKAXE_BIN import - --source crm --data $base"
node "$PX_ROOT/bench/profiles-jsonl.mjs" "$PROFILES_BF" >"$WORK/customers.jsonl"
"$PICKAXE_BIN" import "$WORK/customers.jsonl" --source crm --data "$base" --json >&2
rm "$WORK/customers.jsonl"
RULES=('computed.orders >= 2' 'plan = "pro" and country = "GB"' 'at least 2 events "Order Completed" in last 30 days')
NAMES=(computed traits new-aggregation)
for k in 0 1 2; do : >"$WORK/bf-$k"; done
for r in $(seq 1 "$RUNS"); do
  for k in 0 1 2; do
    copy="$WORK/bf-copy"
    rm -rf "$copy"
    cp -r "$base" "$copy"
    sync
    px_log "+ $PICKAXE_BIN segment create bf --rule '${RULES[$k]}' --data $copy"
    read -r w _ < <(timed "$PICKAXE_BIN" segment create bf --rule "${RULES[$k]}" --data "$copy")
    echo "$w" >>"$WORK/bf-$k"
    printf 'run %d: backfill %-15s %s s (%s)\n' "$r" "${NAMES[$k]}" "$w" "${RULES[$k]}"
  done
done
rm -rf "$WORK/bf-copy"
for k in 0 1 2; do
  m=$(px_median <"$WORK/bf-$k")
  echo "backfill over $PROFILES_BF customers, ${NAMES[$k]} rule: median $m s; target < 1 s: $(px_target "$m" lt 1)"
done

# ---- 3. count ----
for k in 0 1; do "$PICKAXE_BIN" segment create "count$k" --rule "${RULES[$k]}" --data "$base" >/dev/null; done
printf 'count0\ncount1\n' >"$WORK/segment-refs"
token=$(px_token_create "$base")
px_start_server "$base"
: >"$WORK/count-p99"
for r in $(seq 1 "$RUNS"); do
  px_run "$BENCH_BIN/px-read" --refs "$WORK/segment-refs" --path /v1/segments/ --url "$SERVER_URL" \
    --token "$token" --rate "$RATE" --duration "$DURATION" --warmup 1 --connections 4 --seed "$r" --json \
    >"$WORK/count-$r.json" || px_fail "px-read failed"
  json=$(cat "$WORK/count-$r.json")
  px_json p99 latency_ms <<<"$json" >>"$WORK/count-p99"
  printf 'run %d: GET /v1/segments/{name} at %s/s: latency p50 %s p99 %s max %s ms, statuses {%s}\n' "$r" \
    "$(px_json achieved_rate <<<"$json")" "$(px_json p50 latency_ms <<<"$json")" \
    "$(px_json p99 latency_ms <<<"$json")" "$(px_json max latency_ms <<<"$json")" \
    "$(sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' <<<"$json")"
done
px_stop_server
p99=$(px_median <"$WORK/count-p99")
members=$("$PICKAXE_BIN" segment count count0 --data "$base")
echo "segment count over HTTP (count0: $members members): median p99 $p99 ms; target < 1 ms: $(px_target "$p99" lt 1)"
