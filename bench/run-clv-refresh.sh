#!/usr/bin/env bash
# The CLV refresh in the platform (issue 5) over PROFILES customers:
# `pickaxe clv refresh` on a store holding bench/clv-customers.mjs's
# customers (purchases drawn from the BG/NBD story over a year), RUNS
# times on the same store, each a day later than the last (as a daily
# refit: every customer's T grows, so every score changes and is written;
# the first run, which writes them all the first time, is reported apart),
# with the page cache as the previous run left it. Prints the phases the
# refresh reports: read (every profile's purchase days, one state each),
# fit (BG/NBD and Gamma-Gamma) and score (the numbers on two threads, then
# the writes).
#   bench/run-clv-refresh.sh            PROFILES=1000000 RUNS=3
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
PROFILES=${PROFILES:-1000000}
START=2024-04-01
export PICKAXE_NOW=${START}T00:00:00Z

command -v node >/dev/null || px_fail "node is needed for the customer generator"
px_require
px_workdir

base=$(px_new_data clv)
px_source_add "$base" crm >/dev/null
# The definition first, as in production: its purchase-days trait is then
# kept per profile as the events are imported.
printf '%s\n' '{"clv":{"event":"Order Completed","revenue":"revenue","unit":"day","refresh_every":"never"}}' \
  >"$WORK/clv.json"
"$PICKAXE_BIN" apply "$WORK/clv.json" --data "$base" >/dev/null
node "$PX_ROOT/bench/clv-customers.mjs" "$PROFILES" >"$WORK/customers.jsonl"
px_run "$PICKAXE_BIN" import "$WORK/customers.jsonl" --source crm --data "$base" --json >&2
rm "$WORK/customers.jsonl"
: >"$WORK/wall" && : >"$WORK/read" && : >"$WORK/fit" && : >"$WORK/score"
for r in $(seq 0 "$RUNS"); do
  start=$(date +%s.%N)
  PICKAXE_NOW=$(date -u -d "$START + $r days" +%Y-%m-%dT00:00:00Z) \
    "$PICKAXE_BIN" clv refresh --data "$base" --json >"$WORK/out.json" || px_fail "clv refresh failed"
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  read -r rd ft sc ch < <(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1])).last_refresh;
    console.log(j.timings_ms.read, j.timings_ms.fit, j.timings_ms.score, j.changed)' "$WORK/out.json")
  px_log "run $r: wall $wall s; read $rd ms, fit $ft ms, score $sc ms; $ch customers' scores changed"
  if [ "$r" -gt 0 ]; then # run 0 writes every score the first time
    echo "$wall" >>"$WORK/wall" && echo "$rd" >>"$WORK/read" && echo "$ft" >>"$WORK/fit" && echo "$sc" >>"$WORK/score"
  else
    echo "first refresh (writes every customer's scores): wall $wall s; read $rd ms, fit $ft ms, score $sc ms"
  fi
done
node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1])).last_refresh;
  console.log(`${j.profiles} profiles, ${j.customers} customers (${j.repeat_customers} repeat), ${j.purchases} purchases`)' \
  "$WORK/out.json"
echo "later refreshes (median of $RUNS): wall $(px_median <"$WORK/wall") s; read $(px_median <"$WORK/read") ms," \
  "fit $(px_median <"$WORK/fit") ms, score $(px_median <"$WORK/score") ms"
