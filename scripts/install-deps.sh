#!/usr/bin/env bash
# Installs what pickaxe needs to build and test, on Debian 12.
# Safe to run repeatedly: it installs only what is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang llvm
  libmicrohttpd-dev liblmdb-dev lmdb-utils libcjson-dev libsodium-dev libxxhash-dev
  libcmocka-dev zlib1g-dev libutf8proc-dev libroaring-dev libgsl-dev
  nodejs npm curl time
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian (e.g. a preinstalled Node 20): accept any working ones.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
