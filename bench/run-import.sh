#!/usr/bin/env bash
# Bulk import: events/s of `pickaxe import FILE --source NAME --data DIR`
# (no server), timed from start to exit with date +%s.%N. Each run imports
# the same generated JSON-lines file into a fresh data directory; the median
# of RUNS runs is printed. Target: >= 300,000 events/s.
#
# Settings (environment): PICKAXE_BIN (build/pickaxe), BENCH_BIN (build/bench),
# RUNS (5), EVENTS (2000000), PROFILES (200000), SEED (1), RESULTS (a folder
# to keep each run's import JSON in), KEEP (1: keep the temporary folder).
source "$(dirname "$0")/lib.sh"

EVENTS=${EVENTS:-2000000}
PROFILES=${PROFILES:-200000}
TARGET=300000

px_require
px_workdir
events="$WORK/events.jsonl"
px_run "$BENCH_BIN/px-gen" --format jsonl --events "$EVENTS" --profiles "$PROFILES" --seed "$SEED" \
  --out "$events" --stats
cat "$events" >/dev/null # warm the page cache so every run reads it from memory
sync # the generator's gigabyte of writes must not be flushed during the runs

: >"$WORK/eps"
for r in $(seq 1 "$RUNS"); do
  data=$(px_new_data "$r")
  px_source_add "$data" bench >/dev/null
  sync # nothing of the previous run left to write back
  px_log "+ $PICKAXE_BIN import $events --source bench --data $data --json"
  rc=0
  t0=$(date +%s.%N)
  "$PICKAXE_BIN" import "$events" --source bench --data "$data" --json >"$WORK/run-$r.json" || rc=$?
  t1=$(date +%s.%N)
  [ -n "${RESULTS:-}" ] && mkdir -p "$RESULTS" && cp "$WORK/run-$r.json" "$RESULTS/import-$r.json"
  accepted=$(px_json accepted <"$WORK/run-$r.json" | head -n 1)
  [ -n "$accepted" ] || accepted=0
  eps=$(awk -v n="$accepted" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
  echo "$eps" >>"$WORK/eps"
  printf 'run %d: %s events accepted in %.3f s = %s events/s%s\n' "$r" "$accepted" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$eps" "$([ $rc -eq 0 ] || echo ", import exit $rc")"
  rm -rf "$data"
done

eps=$(px_median <"$WORK/eps")
echo "bulk import: median $eps events/s over $RUNS runs ($EVENTS events, $PROFILES profiles)"
echo "target >= $TARGET events/s: $(px_target "$eps" ge $TARGET)"
