#!/usr/bin/env bash
# Benchmark: what a browser transfers to load MagUI from the release build.
# Builds the release server and site exactly as scripts/run.sh does (site in
# target/site-release, JS/WASM/CSS precompressed), starts it on a free port
# with a fresh SQLite store and an owner account, and lets
# scripts/bench-site-size.mjs load the sign-in page and the Dashboard in
# Debian's Chromium. Exits non-zero when JS + WASM + CSS exceed the goal.
# MAGFLOCK_BIN=<server binary> builds only the site and serves it with that
# binary (what a browser is sent depends on the site files, not on how the
# server was compiled).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh --browser
export LEPTOS_SITE_ROOT=target/site-release
if [ -n "${MAGFLOCK_BIN:-}" ]; then
  cargo leptos build --release --precompress --split --frontend-only
  server_bin=$MAGFLOCK_BIN
else
  cargo leptos build --release --precompress --split
  server_bin=./target/release/magflock
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
email=bench-owner@example.com
password=Sturdy-Bench-Pass-2026
DATABASE_URL="sqlite://$data/magflock.db" MAGFLOCK_DATA_DIR="$data/data" \
  LEPTOS_SITE_ADDR="127.0.0.1:$port" MAGFLOCK_ADMIN_EMAIL="$email" \
  MAGFLOCK_ADMIN_NAME="Bench Owner" MAGFLOCK_ADMIN_PASSWORD="$password" \
  "$server_bin" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/login" >/dev/null && break
  sleep 0.2
done
node scripts/bench-site-size.mjs "http://127.0.0.1:$port" "$email" "$password" "$LEPTOS_SITE_ROOT"
