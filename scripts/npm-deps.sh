#!/usr/bin/env bash
# Installs the JavaScript test clients (real Segment and RudderStack SDKs) from npm.
set -euo pipefail
cd "$(dirname "$0")/../tests/sdk"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
