#!/usr/bin/env bash
# Record linkage at scale: `pickaxe resolve FILE --truth rec_id --truth-regex
# 'rec-([0-9]+)' --json` on RECORDS person records from px-gen-people (40%
# duplicates with realistic corruptions), generated once. Each of RUNS runs
# is timed by /usr/bin/time -v; per run it prints wall seconds, the pairs
# compared, pairwise precision/recall/F1 against the generator's ground truth,
# peak RSS and CPU time, then the medians. Target: 1,000,000 records in
# under 60 s on 2 cores.
#
# Usage: bench/run-resolve.sh [RECORDS]   (default 1000000)
# Settings (environment): PICKAXE_BIN (build/pickaxe), BENCH_BIN (build/bench),
# RUNS (3), SEED (1), DUP_RATE (0.4), MAX_DUPS (5), RESOLVE_ARGS (more
# arguments for pickaxe resolve, e.g. "--config MATCH.json"), RESULTS (a
# folder to keep each run's JSON and time output in), KEEP (1: keep the
# temporary folder).
RUNS=${RUNS:-3}
source "$(dirname "$0")/lib.sh"

RECORDS=${1:-${RECORDS:-1000000}}
DUP_RATE=${DUP_RATE:-0.4}
MAX_DUPS=${MAX_DUPS:-5}
TARGET=60

[ -x "$PICKAXE_BIN" ] || px_fail "no pickaxe binary at $PICKAXE_BIN (build it, or set PICKAXE_BIN)"
[ -x "$BENCH_BIN/px-gen-people" ] || px_fail "no $BENCH_BIN/px-gen-people (cmake --build build, or set BENCH_BIN)"
[ -x /usr/bin/time ] || px_fail "no /usr/bin/time (GNU time; apt-get install time)"
case "$RECORDS" in '' | *[!0-9]*) px_fail "RECORDS must be a number, got '$RECORDS'" ;; esac

px_workdir
people="$WORK/people.csv"
px_run "$BENCH_BIN/px-gen-people" --records "$RECORDS" --dup-rate "$DUP_RATE" --max-dups "$MAX_DUPS" \
  --seed "$SEED" --out "$people" --stats
cat "$people" >/dev/null # warm the page cache so every run reads it from memory
sync

# A field of GNU time -v's output: time_field FILE LABEL.
time_field() { sed -n "s/^[[:space:]]*$2: *//p" "$1" | head -n 1; }

: >"$WORK/wall"; : >"$WORK/pairs"; : >"$WORK/prec"; : >"$WORK/rec"; : >"$WORK/f1"; : >"$WORK/rss"; : >"$WORK/cpu"
for r in $(seq 1 "$RUNS"); do
  json="$WORK/run-$r.json" tv="$WORK/time-$r.txt"
  px_log "+ $PICKAXE_BIN resolve $people --truth rec_id --truth-regex 'rec-([0-9]+)' --json${RESOLVE_ARGS:+ $RESOLVE_ARGS}"
  rc=0
  # shellcheck disable=SC2086 # RESOLVE_ARGS is split into arguments on purpose
  /usr/bin/time -v -o "$tv" "$PICKAXE_BIN" resolve "$people" --truth rec_id --truth-regex 'rec-([0-9]+)' --json \
    ${RESOLVE_ARGS:-} >"$json" 2>"$WORK/run-$r.err" || rc=$?
  if [ -n "${RESULTS:-}" ]; then
    mkdir -p "$RESULTS"
    cp "$json" "$RESULTS/resolve-$r.json"
    cp "$tv" "$RESULTS/resolve-$r.time"
  fi
  if [ $rc -ne 0 ]; then
    px_log "run $r: pickaxe resolve exited $rc: $(tail -n 5 "$WORK/run-$r.err")"
    continue
  fi
  wall=$(time_field "$tv" 'Elapsed (wall clock) time (h:mm:ss or m:ss)' |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  cpu=$(awk -v u="$(time_field "$tv" 'User time (seconds)')" -v s="$(time_field "$tv" 'System time (seconds)')" \
    'BEGIN { printf "%.1f", u + s }')
  rss=$(awk -v k="$(time_field "$tv" 'Maximum resident set size (kbytes)')" 'BEGIN { printf "%.0f", k / 1024 }')
  pairs=$(px_json pairs_compared <"$json" | head -n 1)
  prec=$(px_json precision <"$json" | head -n 1)
  recall=$(px_json recall <"$json" | head -n 1)
  f1=$(px_json f1 <"$json" | head -n 1)
  secs=$(px_json seconds <"$json" | head -n 1)
  echo "$wall" >>"$WORK/wall"; echo "$pairs" >>"$WORK/pairs"; echo "$prec" >>"$WORK/prec"
  echo "$recall" >>"$WORK/rec"; echo "$f1" >>"$WORK/f1"; echo "$rss" >>"$WORK/rss"; echo "$cpu" >>"$WORK/cpu"
  printf 'run %d: %s s wall (resolve: %s s, CPU %s s), %s pairs compared, precision %s, recall %s, F1 %s, peak RSS %s MB\n' \
    "$r" "$wall" "$secs" "$cpu" "$pairs" "$prec" "$recall" "$f1" "$rss"
  if [ -s "$WORK/run-$r.err" ]; then sed 's/^/  stderr: /' "$WORK/run-$r.err" | head -n 20 >&2; fi
done

[ -s "$WORK/wall" ] || px_fail "no run succeeded"
wall=$(px_median <"$WORK/wall")
fmt='resolve %s records (duplicate share %s, seed %s), median of %s runs: %s s wall, CPU %s s, '
fmt+='%s pairs compared, precision %s, recall %s, F1 %s, peak RSS %s MB\n'
# shellcheck disable=SC2059 # the format is built above
printf "$fmt" \
  "$RECORDS" "$DUP_RATE" "$SEED" "$(wc -l <"$WORK/wall")" "$wall" "$(px_median <"$WORK/cpu")" \
  "$(px_median <"$WORK/pairs")" "$(px_median <"$WORK/prec")" "$(px_median <"$WORK/rec")" \
  "$(px_median <"$WORK/f1")" "$(px_median <"$WORK/rss")"
if [ "$RECORDS" -ge 1000000 ]; then
  echo "target 1,000,000 records in < $TARGET s: $(px_target "$wall" lt $TARGET)"
fi
