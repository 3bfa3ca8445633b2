#!/usr/bin/env bash
# Item-to-item recommendations (issue 6) on the Online Retail purchases:
# customers (CustomerID) as users, stock codes as items, cancelled invoices
# (InvoiceNo starting with C) and lines without a customer left out.
#
# 1. `pickaxe recommend train --json` RUNS times (each a fresh process):
#    reading the gzip file, building the baskets, training the model on
#    every purchase (target: < 1 s), then 10 recommendations for every
#    customer in turn (p50, p99, max of one query, in-process).
# 2. `pickaxe recommend eval --json` RUNS times for each split (the time
#    split at 2011-10-01, and user:0.25 with SEED): the wall time of the
#    whole command, and its figures for the model and the popularity
#    baseline (the same every run: the splits are deterministic).
#
# Usage: bench/run-reco.sh [FILE]   (default ../shared/data/online-retail/online_retail.csv.gz)
# Settings (environment): PICKAXE_BIN (build/pickaxe), RUNS (5), SEED (1),
# THREADS (1: training threads), MAX_ITEMS (0: a customer is scored from
# all their items; N: from their N most recent), K (10), RECO_ARGS (more
# model options, e.g. "--half-life 90"), RESULTS (a folder to keep each
# run's JSON in), KEEP (1: keep the temporary folder).
source "$(dirname "$0")/lib.sh"

FILE=${1:-${FILE:-$PX_ROOT/../shared/data/online-retail/online_retail.csv.gz}}
THREADS=${THREADS:-1}
MAX_ITEMS=${MAX_ITEMS:-0}
K=${K:-10}
RECO_ARGS=${RECO_ARGS:-}
TRAIN_TARGET=1

[ -x "$PICKAXE_BIN" ] || px_fail "no pickaxe binary at $PICKAXE_BIN (build it, or set PICKAXE_BIN)"
[ -r "$FILE" ] || px_fail "cannot read $FILE (the Online Retail data set: ../shared/data/online-retail)"

px_workdir
# shellcheck disable=SC2206
READ=(--csv "$FILE" --user CustomerID --item StockCode --time InvoiceDate --skip InvoiceNo=C
  --threads "$THREADS" --max-items "$MAX_ITEMS" $RECO_ARGS)
keep() { # NAME FILE
  if [ -n "${RESULTS:-}" ]; then
    mkdir -p "$RESULTS"
    cp "$2" "$RESULTS/$1"
  fi
}
m() { px_median <"$WORK/$1"; }
range() { sort -g "$WORK/$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

# 1. training on everything
fields="read_s baskets_s train_s p50 p99 max"
for f in $fields; do : >"$WORK/$f"; done
json=""
for r in $(seq 1 "$RUNS"); do
  json="$WORK/train-$r.json"
  px_run "$PICKAXE_BIN" recommend train "${READ[@]}" --json >"$json" 2>"$WORK/train.err" ||
    px_fail "pickaxe recommend train failed (run $r): $(cat "$WORK/train.err")"
  keep "reco-train-$r.json" "$json"
  for f in read_s baskets_s train_s; do px_json "$f" <"$json" >>"$WORK/$f"; done
  for f in p50 p99 max; do px_json "$f" query_us <"$json" >>"$WORK/$f"; done
  printf 'train run %d: read %s s, baskets %s s, training %s s; one customer'\''s 10 recommendations p50 %s us, p99 %s us, max %s us\n' \
    "$r" "$(px_json read_s <"$json")" "$(px_json baskets_s <"$json")" "$(px_json train_s <"$json")" \
    "$(px_json p50 query_us <"$json")" "$(px_json p99 query_us <"$json")" "$(px_json max query_us <"$json")"
done
printf 'training on %s interactions (%s customers, %s items, %s distinct pairs), %s thread(s), median of %s runs:\n' \
  "$(px_json interactions <"$json")" "$(px_json users <"$json")" "$(px_json items <"$json")" \
  "$(px_json pairs <"$json")" "$THREADS" "$RUNS"
printf '  read (gunzip + CSV) %s s (runs %s), baskets %s s, training %s s (runs %s)\n' "$(m read_s)" "$(range read_s)" \
  "$(m baskets_s)" "$(m train_s)" "$(range train_s)"
printf '  one customer'\''s 10 recommendations (every customer in turn, max items %s): p50 %s us, p99 %s us (runs %s), max %s us\n' \
  "$MAX_ITEMS" "$(m p50)" "$(m p99)" "$(range p99)" "$(m max)"
echo "target training on the whole file in < $TRAIN_TARGET s: $(px_target "$(m train_s)" lt $TRAIN_TARGET)"

# 2. the offline evaluation
for split in time:2011-10-01 user:0.25; do
  : >"$WORK/wall"
  for r in $(seq 1 "$RUNS"); do
    json="$WORK/eval-$r.json"
    t0=$(date +%s.%N)
    px_run "$PICKAXE_BIN" recommend eval "${READ[@]}" --split "$split" --seed "$SEED" --k "$K" --json >"$json" \
      2>"$WORK/eval.err" || px_fail "pickaxe recommend eval failed (run $r): $(cat "$WORK/eval.err")"
    t1=$(date +%s.%N)
    keep "reco-eval-${split%%:*}-$r.json" "$json"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$WORK/wall"
  done
  printf 'eval --split %s --seed %s --k %s: wall %s s (median of %s; runs %s); train %s, test %s interactions; %s users evaluated\n' \
    "$split" "$SEED" "$K" "$(m wall)" "$RUNS" "$(range wall)" "$(px_json train <"$json")" "$(px_json test <"$json")" \
    "$(px_json evaluated_users <"$json")"
  for side in model popularity; do
    printf '  %-10s precision@%s %s  recall@%s %s  ndcg@%s %s  map@%s %s  coverage %s\n' "$side" \
      "$K" "$(px_json precision "$side" <"$json")" "$K" "$(px_json recall "$side" <"$json")" \
      "$K" "$(px_json ndcg "$side" <"$json")" "$K" "$(px_json map "$side" <"$json")" \
      "$(px_json coverage "$side" <"$json")"
  done
done
