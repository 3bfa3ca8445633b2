#!/usr/bin/env bash
# Recommendations in the platform at scale (issue 6): px-gen's shop
# (Order Completed with products[], Product Added, Product Viewed) for
# PROFILES people and EVENTS events, imported into two stores, one without
# and one with the recommendations definition applied first (its three
# interactions are then kept per profile as events arrive: the import time
# difference is their cost per event); then `pickaxe recommend model` RUNS
# times on the second store (the training a server repeats every
# refresh_every: read every profile's interaction states, train, read the
# catalog), and the definition applied to the first store afterwards (the
# backfill over every profile).
#   bench/run-recs-scale.sh            EVENTS=2000000 PROFILES=200000 RUNS=5
source "$(dirname "$0")/lib.sh"

EVENTS=${EVENTS:-2000000}
PROFILES=${PROFILES:-200000}

px_require
px_workdir

cat >"$WORK/recs.json" <<'EOF'
{"recommendations": {"interactions": [
  {"event": "Order Completed", "item": "products[].product_id", "kind": "purchase", "weight": 1},
  {"event": "Product Added", "item": "product_id", "kind": "cart", "weight": 0.5},
  {"event": "Product Viewed", "item": "product_id", "kind": "view", "weight": 0.25}],
 "refresh_every": "never"}}
EOF
px_run "$BENCH_BIN/px-gen" --events "$EVENTS" --profiles "$PROFILES" --seed "$SEED" --format jsonl \
  --out "$WORK/events.jsonl" >&2

timed() { # prints the wall seconds of a command, its output to stderr
  local start
  start=$(date +%s.%N)
  "$@" >&2 || px_fail "$* failed"
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
}

plain=$(px_new_data plain)
with=$(px_new_data with)
px_source_add "$plain" web >/dev/null
px_source_add "$with" web >/dev/null
"$PICKAXE_BIN" apply "$WORK/recs.json" --data "$with" >/dev/null
t_plain=$(timed "$PICKAXE_BIN" import "$WORK/events.jsonl" --source web --data "$plain")
t_with=$(timed "$PICKAXE_BIN" import "$WORK/events.jsonl" --source web --data "$with")
echo "import of $EVENTS events: $t_plain s without the definition, $t_with s with it" \
  "($(awk -v a="$t_plain" -v b="$t_with" -v n="$EVENTS" 'BEGIN { printf "%.2f", (b - a) / n * 1e6 }') us per event)"
t_backfill=$(timed "$PICKAXE_BIN" apply "$WORK/recs.json" --data "$plain")
echo "the definition applied afterwards (backfill over every profile): $t_backfill s"

: >"$WORK/total" && : >"$WORK/read" && : >"$WORK/train"
for r in $(seq 1 "$RUNS"); do
  "$PICKAXE_BIN" recommend model --data "$with" --json >"$WORK/model.json" || px_fail "recommend model failed"
  read -r total rd tr summary < <(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(j.seconds.total, j.seconds.read, j.seconds.train,
      `${j.profiles} profiles, ${j.customers} customers, ${j.items} items, ${j.pairs} pairs, ${j.neighbours} neighbours`)' \
    "$WORK/model.json")
  px_log "run $r: total $total s (read $rd s, train $tr s): $summary"
  echo "$total" >>"$WORK/total" && echo "$rd" >>"$WORK/read" && echo "$tr" >>"$WORK/train"
done
echo "training from the store ($summary), median of $RUNS: total $(px_median <"$WORK/total") s," \
  "read $(px_median <"$WORK/read") s, train $(px_median <"$WORK/train") s"
