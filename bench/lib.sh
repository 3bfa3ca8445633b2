# shellcheck shell=bash
# Shared by the run-*.sh scripts (sourced, not run). Starts and stops a
# throwaway pickaxe server on a temporary data directory and does the
# arithmetic. Every process it starts is stopped by its own pid on exit.

set -euo pipefail

PX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PICKAXE_BIN=${PICKAXE_BIN:-$PX_ROOT/build/pickaxe}
BENCH_BIN=${BENCH_BIN:-$(dirname "$PICKAXE_BIN")/bench}
RUNS=${RUNS:-5}
SEED=${SEED:-1}
KEEP=${KEEP:-0}
SERVER_PID=""
SERVER_URL=""

px_log() { printf '%s\n' "$*" >&2; }
px_fail() { px_log "error: $*"; exit 1; }

# Prints a command (to stderr) before running it, so runs can be reproduced.
px_run() { px_log "+ $*"; "$@"; }

px_require() {
  [ -x "$PICKAXE_BIN" ] || px_fail "no pickaxe binary at $PICKAXE_BIN (build it, or set PICKAXE_BIN)"
  local t
  for t in px-gen px-load px-read; do
    [ -x "$BENCH_BIN/$t" ] || px_fail "no $BENCH_BIN/$t (cmake --build build, or set BENCH_BIN)"
  done
}

px_cleanup() {
  px_stop_server
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then px_log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
}

px_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/pickaxe-bench.XXXXXX")
  trap px_cleanup EXIT
  trap 'exit 130' INT TERM
}

# A fresh data directory with one source; prints the data directory.
px_new_data() {
  local dir="$WORK/data-$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '%s\n' "$dir"
}

px_source_add() { # DATA_DIR NAME -> write key on stdout
  local key
  key=$("$PICKAXE_BIN" source add "$2" --data "$1" | tr -d '[:space:]')
  [ -n "$key" ] || px_fail "pickaxe source add printed no write key"
  printf '%s\n' "$key"
}

px_token_create() { # DATA_DIR -> admin token on stdout
  local tok
  tok=$("$PICKAXE_BIN" token create --data "$1" | tr -d '[:space:]')
  [ -n "$tok" ] || px_fail "pickaxe token create printed no token"
  printf '%s\n' "$tok"
}

# Starts `pickaxe serve` on a free loopback port; sets SERVER_PID and SERVER_URL.
px_start_server() { # DATA_DIR
  local out="$WORK/serve.out" err="$WORK/serve.err" _
  : >"$out"
  "$PICKAXE_BIN" serve --data "$1" --listen 127.0.0.1:0 >"$out" 2>"$err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    SERVER_URL=$(sed -n 's/^pickaxe listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
    [ -n "$SERVER_URL" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      SERVER_PID=""
      px_fail "pickaxe serve exited early: $(tail -n 20 "$err")"
    fi
    sleep 0.05
  done
  px_fail "pickaxe serve printed no 'pickaxe listening on' line within 10 s"
}

px_stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local _
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    px_log "pickaxe serve did not stop within 15 s of SIGTERM: killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  SERVER_URL=""
}

# A number from a one-line JSON document on stdin: px_json FIELD [OBJECT].
px_json() {
  if [ $# -eq 2 ]; then
    sed -n "s/.*\"$2\":{[^}]*\"$1\":\(-\{0,1\}[0-9.eE+-]*\).*/\1/p"
  else
    sed -n "s/.*\"$1\":\(-\{0,1\}[0-9.eE+-]*\).*/\1/p"
  fi
}

# The median of the numbers on stdin, one a line.
px_median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# "met" or "NOT met": px_target VALUE OP LIMIT with OP one of ge, lt.
px_target() {
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "ge") ? (v + 0 >= t + 0) : (v + 0 < t + 0)
    print (v == "nan" || v == "") ? "not measured" : (ok ? "met" : "NOT met") }'
}
