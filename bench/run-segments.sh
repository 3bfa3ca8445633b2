#!/usr/bin/env bash
# Segments and computed traits (issue 4). Three figures, each the median of
# RUNS runs:
#
# 1. Added cost per ingested event with 100 segments and 50 computed traits
#    (bench/segment-defs.mjs) kept current, (with - without) / events:
#    - the px-gen stream imported into an empty data directory with nothing
#      defined and after `pickaxe apply` (wall and CPU, start to exit; every
#      new profile evaluates all 100 segments);
#    - the steady state: a server loaded over HTTP (px-load) with all but
#      the last TAIL events, then the server's own CPU time (user + system,
#      /proc) while it takes those TAIL events.
#    Target: <= 5 us per event.
# 2. Backfill of a new segment over PROFILES_BF customers
#    (bench/profiles-jsonl.mjs, two computed traits defined before the
#    import): `pickaxe segment create` timed from start to exit, on a fresh
#    copy of the loaded store each run, for a rule over a computed trait, a
#    rule over traits, a rule with an aggregation nothing had yet (every
#    customer's events replayed), and a rule every customer enters (an
#    identifier: a history row and a segment list written for each); then
#    the same rules over HTTP (PUT /v1/segments/{name}, timed by curl) on a
#    server on a fresh copy that has just defined a first segment of the
#    same kind, so the pages they read are mapped. Target: < 1 s.
# 3. Count of a segment: GET /v1/segments/{name} (its count) at RATE
#    requests/s for DURATION s against a server on the backfill store, with
#    px-read (open loop). Target: < 1 ms.
#
# Settings (environment): PICKAXE_BIN, BENCH_BIN, RUNS (3), EVENTS (1000000),
# PROFILES (100000), TAIL (100000), CONNECTIONS (4: px-load's, for the HTTP
# steady state), PROFILES_BF (1000000), RATE (2000),
# DURATION (10), SEED (1), PARTS ("cost backfill count": which of the
# three to run; count needs backfill), KEEP. The clock is pinned (PICKAXE_NOW) at the
# end of the generated period so that windows hold events.
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
EVENTS=${EVENTS:-1000000}
PROFILES=${PROFILES:-100000}
TAIL=${TAIL:-100000}
CONNECTIONS=${CONNECTIONS:-4}
PROFILES_BF=${PROFILES_BF:-1000000}
RATE=${RATE:-2000}
DURATION=${DURATION:-10}
PARTS=${PARTS:-cost backfill count}
export PICKAXE_NOW=2024-04-01T00:00:00Z
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

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
# The server's CPU time (user + system, all threads) from /proc.
server_cpu() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -v hz="$hz" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"
}

if want cost; then
px_run "$BENCH_BIN/px-gen" --format jsonl --events "$EVENTS" --profiles "$PROFILES" --seed "$SEED" \
  --out "$WORK/events.jsonl"
px_run "$BENCH_BIN/px-gen" --format batch --batch-size 100 --events "$EVENTS" --profiles "$PROFILES" \
  --seed "$SEED" --out "$WORK/bodies.batch"
bodies=$((EVENTS / 100))
tail_bodies=$((TAIL / 100))
head -n $((bodies - tail_bodies)) "$WORK/bodies.batch" >"$WORK/head.batch"
tail -n "$tail_bodies" "$WORK/bodies.batch" >"$WORK/tail.batch"
rm "$WORK/bodies.batch"
node "$PX_ROOT/bench/segment-defs.mjs" >"$WORK/defs.json"
cat "$WORK/events.jsonl" >/dev/null
sync

for f in whole whole_cpu tail_cpu; do : >"$WORK/$f"; done
for r in $(seq 1 "$RUNS"); do
  : >"$WORK/run-$r"
  for mode in none defs; do
    # Whole stream: pickaxe import, from an empty store.
    data=$(px_new_data "$mode-$r")
    px_source_add "$data" bench >/dev/null
    [ "$mode" = defs ] && "$PICKAXE_BIN" apply "$WORK/defs.json" --data "$data" >/dev/null
    sync
    px_log "+ $PICKAXE_BIN import events.jsonl --source bench --data $data ($mode)"
    read -r iw ic < <(timed "$PICKAXE_BIN" import "$WORK/events.jsonl" --source bench --data "$data" --json)
    rm -rf "$data"
    # Steady state: a server loaded with the stream's head over HTTP, then
    # its CPU time while it takes the tail.
    data=$(px_new_data "http-$mode-$r")
    key=$(px_source_add "$data" bench)
    [ "$mode" = defs ] && "$PICKAXE_BIN" apply "$WORK/defs.json" --data "$data" >/dev/null
    px_start_server "$data"
    px_run "$BENCH_BIN/px-load" --file "$WORK/head.batch" --url "$SERVER_URL" --write-key "$key" \
      --connections "$CONNECTIONS" >/dev/null || px_fail "loading the head failed"
    c0=$(server_cpu)
    px_run "$BENCH_BIN/px-load" --file "$WORK/tail.batch" --url "$SERVER_URL" --write-key "$key" \
      --connections "$CONNECTIONS" --json >"$WORK/tail-$mode-$r.json" || px_fail "loading the tail failed"
    c1=$(server_cpu)
    px_stop_server
    rm -rf "$data"
    tc=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
    printf '%s %s %s %s %s\n' "$mode" "$iw" "$ic" "$tc" "$(px_json events_per_s <"$WORK/tail-$mode-$r.json")" \
      >>"$WORK/run-$r"
  done
  read -r _ niw nic ntc neps < <(grep '^none' "$WORK/run-$r")
  read -r _ diw dic dtc deps < <(grep '^defs' "$WORK/run-$r")
  awk -v a="$niw" -v b="$diw" -v n="$EVENTS" 'BEGIN { printf "%.3f\n", (b - a) / n * 1e6 }' >>"$WORK/whole"
  awk -v a="$nic" -v b="$dic" -v n="$EVENTS" 'BEGIN { printf "%.3f\n", (b - a) / n * 1e6 }' >>"$WORK/whole_cpu"
  awk -v a="$ntc" -v b="$dtc" -v n="$TAIL" 'BEGIN { printf "%.3f\n", (b - a) / n * 1e6 }' >>"$WORK/tail_cpu"
  printf 'run %d: import %.2f s without definitions, %.2f s with (cpu %.2f, %.2f s): added %s us per event (cpu %s); ' \
    "$r" "$niw" "$diw" "$nic" "$dic" "$(tail -n 1 "$WORK/whole")" "$(tail -n 1 "$WORK/whole_cpu")"
  printf 'HTTP tail: server cpu %.2f s without, %.2f s with (%s and %s events/s): added %s us per event\n' \
    "$ntc" "$dtc" "$neps" "$deps" "$(tail -n 1 "$WORK/tail_cpu")"
done
rm "$WORK/events.jsonl" "$WORK/head.batch" "$WORK/tail.batch"
whole=$(px_median <"$WORK/whole")
tailv=$(px_median <"$WORK/tail_cpu")
echo "added per event, 100 segments + 50 computed traits: import of $EVENTS events from empty: median $whole us" \
  "(cpu $(px_median <"$WORK/whole_cpu") us); server taking the last $TAIL over HTTP: median $tailv us of cpu"
echo "target <= 5 us: import $(px_target "$whole" lt 5.0001), steady state over HTTP $(px_target "$tailv" lt 5.0001)"
fi

# ---- 2. backfill ----
want backfill || exit 0
base=$(px_new_data backfill)
px_source_add "$base" crm >/dev/null
printf '%s\n' '{"computed_traits":[{"name":"orders","function":"count","event":"Order Completed"},' \
  '{"name":"revenue","function":"sum","event":"Order Completed","property":"revenue"}]}' >"$WORK/bf-defs.json"
"$PICKAXE_BIN" apply "$WORK/bf-defs.json" --data "$base" >/dev/null
px_log "+ node bench/profiles-jsonl.mjs $PROFILES_BF | $PICKAXE_BIN import - --source crm --data $base"
node "$PX_ROOT/bench/profiles-jsonl.mjs" "$PROFILES_BF" >"$WORK/customers.jsonl"
"$PICKAXE_BIN" import "$WORK/customers.jsonl" --source crm --data "$base" --json >&2
rm "$WORK/customers.jsonl"
RULES=('computed.orders >= 2' 'plan = "pro" and country = "GB"' 'at least 2 events "Order Completed" in last 30 days'
  'has email')
NAMES=(computed traits new-aggregation everyone)
copy="$WORK/bf-copy"
fresh_copy() { rm -rf "$copy" && cp -r "$base" "$copy" && sync; }
for k in 0 1 2 3; do : >"$WORK/bf-$k"; done
for r in $(seq 1 "$RUNS"); do
  for k in 0 1 2 3; do
    fresh_copy
    px_log "+ $PICKAXE_BIN segment create bf --rule '${RULES[$k]}' --data $copy"
    read -r w _ < <(timed "$PICKAXE_BIN" segment create bf --rule "${RULES[$k]}" --data "$copy")
    echo "$w" >>"$WORK/bf-$k"
    printf 'run %d: backfill %-15s %s s (%s)\n' "$r" "${NAMES[$k]}" "$w" "${RULES[$k]}"
  done
done
# The same rules defined over HTTP on a running server (PUT, timed by curl
# from request to answer), after a first segment of the same kind (WARM)
# so that the server has the pages those rules read mapped, as a server
# that has been serving has: the CLI figures above include a fresh
# process's first touch of every page it reads.
WARM=('computed.orders >= 1' 'plan = "free"' 'at least 1 event "Order Completed" in last 7 days' 'has phone')
for k in 0 1 2 3; do : >"$WORK/bfh-$k"; done
for r in $(seq 1 "$RUNS"); do
  for k in 0 1 2 3; do
    fresh_copy
    token=$(px_token_create "$copy")
    px_start_server "$copy"
    for step in warm bf; do
      rule=${RULES[$k]}
      [ "$step" = warm ] && rule=${WARM[$k]}
      body=$(node -e 'process.stdout.write(JSON.stringify({rule: process.argv[1]}))' "$rule")
      w=$(curl -sS -o "$WORK/put.out" -w '%{http_code} %{time_total}' -X PUT -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' --data "$body" "$SERVER_URL/v1/segments/$step") ||
        px_fail "PUT /v1/segments/$step failed"
      [ "${w%% *}" = 200 ] || [ "${w%% *}" = 201 ] || px_fail "PUT /v1/segments/$step: $w $(cat "$WORK/put.out")"
    done
    px_stop_server
    w=$(awk -v t="${w#* }" 'BEGIN { printf "%.2f", t }')
    echo "$w" >>"$WORK/bfh-$k"
    printf 'run %d: backfill over HTTP %-15s %s s (%s)\n' "$r" "${NAMES[$k]}" "$w" "${RULES[$k]}"
  done
done
rm -rf "$WORK/bf-copy"
for k in 0 1 2 3; do
  m=$(px_median <"$WORK/bf-$k")
  echo "backfill over $PROFILES_BF customers, ${NAMES[$k]} rule: median $m s; target < 1 s: $(px_target "$m" lt 1)"
  m=$(px_median <"$WORK/bfh-$k")
  echo "  the same over HTTP on a running server: median $m s; target < 1 s: $(px_target "$m" lt 1)"
done

# ---- 3. count ----
want count || exit 0
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
