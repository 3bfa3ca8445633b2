#!/usr/bin/env bash
# Customer lifetime value (issue 5): px-clv simulates CUSTOMERS customers
# from BG/NBD and Gamma-Gamma with known (CDNOW-like) parameters, then times
# the two fits (px_bgnbd_fit + px_gamma_gamma_fit) and the scoring of every
# customer (P(alive), expected purchases in 90 days, expected spend and CLV
# over 365 days at 10% a year, on THREADS threads), each on wall time. Runs
# it RUNS times (each a fresh process on the same seeded customers) and
# prints each run, then the medians and the targets: for 1,000,000
# customers, fit < 5 s and scoring < 2 s on 2 cores.
#
# Usage: bench/run-clv.sh [CUSTOMERS]   (default 1000000)
# Settings (environment): BENCH_BIN (build/bench), RUNS (5), SEED (1),
# THREADS (2: px-clv's scoring threads), UNIT (week or day), TIMES (day:
# purchases recorded as whole days as the summary step does; exact:
# continuous times, no two customers alike), RESULTS (a folder to keep each
# run's JSON in), KEEP (1: keep the temporary folder).
source "$(dirname "$0")/lib.sh"

CUSTOMERS=${1:-${CUSTOMERS:-1000000}}
THREADS=${THREADS:-2}
UNIT=${UNIT:-week}
TIMES=${TIMES:-day}
FIT_TARGET=5
SCORE_TARGET=2

[ -x "$BENCH_BIN/px-clv" ] || px_fail "no $BENCH_BIN/px-clv (cmake --build build, or set BENCH_BIN)"
case "$CUSTOMERS" in '' | *[!0-9]*) px_fail "CUSTOMERS must be a number, got '$CUSTOMERS'" ;; esac

px_workdir
fields="fit_s bgnbd_fit_s gg_fit_s score_s p_alive_ns expected_ns spend_ns clv_ns expected_months_ns"
for f in $fields; do : >"$WORK/$f"; done
json=""
for r in $(seq 1 "$RUNS"); do
  json="$WORK/run-$r.json"
  px_run "$BENCH_BIN/px-clv" --customers "$CUSTOMERS" --seed "$SEED" --threads "$THREADS" --unit "$UNIT" \
    --times "$TIMES" --json >"$json" || px_fail "px-clv failed (run $r)"
  if [ -n "${RESULTS:-}" ]; then
    mkdir -p "$RESULTS"
    cp "$json" "$RESULTS/clv-$r.json"
  fi
  for f in $fields; do px_json "$f" <"$json" >>"$WORK/$f"; done
  printf 'run %d: fit %s s (BG/NBD %s, Gamma-Gamma %s), score %s s; one thread per customer: P(alive) %s ns, expected %s ns, spend %s ns, CLV %s ns, 12 months in one call %s ns\n' \
    "$r" "$(px_json fit_s <"$json")" "$(px_json bgnbd_fit_s <"$json")" "$(px_json gg_fit_s <"$json")" \
    "$(px_json score_s <"$json")" "$(px_json p_alive_ns <"$json")" "$(px_json expected_ns <"$json")" \
    "$(px_json spend_ns <"$json")" "$(px_json clv_ns <"$json")" "$(px_json expected_months_ns <"$json")"
done

m() { px_median <"$WORK/$1"; }
range() { sort -g "$WORK/$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
printf 'px-clv %s customers (seed %s, unit %s, times %s, %s scoring threads), median of %s runs:\n' \
  "$CUSTOMERS" "$SEED" "$UNIT" "$TIMES" "$THREADS" "$RUNS"
printf '  fit   %s s (runs %s): BG/NBD %s s, Gamma-Gamma %s s\n' "$(m fit_s)" "$(range fit_s)" \
  "$(m bgnbd_fit_s)" "$(m gg_fit_s)"
printf '  score %s s (runs %s)%s\n' "$(m score_s)" "$(range score_s)" \
  "$(grep -q '"clv":false' "$json" && echo ' (no CLV: built without src/clv/value.h)')"
printf '  one thread, per customer: P(alive) %s ns, expected (90 days) %s ns, spend %s ns, CLV %s ns; 12 monthly horizons in one px_bgnbd_expected_many %s ns\n' \
  "$(m p_alive_ns)" "$(m expected_ns)" "$(m spend_ns)" "$(m clv_ns)" "$(m expected_months_ns)"
printf '  fitted (true): r %s (0.243), alpha %s (%s), a %s (0.793), b %s (2.426); p %s (6.25), q %s (3.74), gamma %s (15.44)\n' \
  "$(px_json r bgnbd <"$json")" "$(px_json alpha bgnbd <"$json")" "$([ "$UNIT" = week ] && echo 4.414 || echo 30.898)" \
  "$(px_json a bgnbd <"$json")" "$(px_json b bgnbd <"$json")" "$(px_json p gamma_gamma <"$json")" \
  "$(px_json q gamma_gamma <"$json")" "$(px_json gamma gamma_gamma <"$json")"
if [ "$CUSTOMERS" -ge 1000000 ]; then
  echo "target fit of 1,000,000 customers in < $FIT_TARGET s: $(px_target "$(m fit_s)" lt $FIT_TARGET)"
  echo "target scoring of 1,000,000 customers in < $SCORE_TARGET s: $(px_target "$(m score_s)" lt $SCORE_TARGET)"
fi
