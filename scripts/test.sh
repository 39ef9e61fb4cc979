#!/usr/bin/env bash
# Every check MagFlock has: formatting, clippy (server, browser and extension
# builds), the extensions built from source as WebAssembly components, unit and
# integration tests on SQLite and PostgreSQL (a fresh database per test; the
# sandbox tests load the extensions), and the Playwright suite in Debian's
# Chromium against a freshly built server.
# PostgreSQL: MAGFLOCK_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh --browser

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
export RUST_BACKTRACE=0
# One-shot builds gain nothing from incremental compilation; it only costs disk (~20 GB).
export CARGO_INCREMENTAL=0
export MAGFLOCK_TEST_PG_URL="${MAGFLOCK_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

say "PostgreSQL reachable at ${MAGFLOCK_TEST_PG_URL%%\?*}?"
if ! timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null && [ "${MAGFLOCK_TEST_PG_URL}" = "postgres://postgres@127.0.0.1:5432/postgres" ]; then
  echo "test: PostgreSQL is not listening on 127.0.0.1:5432; start it (pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start) or set MAGFLOCK_TEST_PG_URL" >&2
  exit 1
fi

say "cargo fmt --check"
cargo fmt --all -- --check

# The extensions only build for wasm32-wasip2; everything else for the host.
not_guests=()
guests=()
for manifest in extensions/*/Cargo.toml; do
  name=$(awk -F'"' '/^name = / { print $2; exit }' "$manifest")
  not_guests+=(--exclude "$name")
  guests+=(-p "$name")
done

say "cargo clippy (server, kernel, tests, benchmarks)"
cargo clippy --workspace "${not_guests[@]}" --all-targets -- -D warnings
say "cargo clippy (browser build)"
cargo clippy -p magflock-app --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

say "extensions: clippy and build from source (wasm32-wasip2 components)"
./scripts/build-extensions.sh
cargo clippy --target wasm32-wasip2 --profile guest "${guests[@]}" -- -D warnings

say "local catalog: the Community Edition extensions packed, signed and listed (target/catalog)"
./scripts/build-catalog.sh

say "cargo test (SQLite and PostgreSQL; the sandbox runs the extensions)"
cargo test --workspace "${not_guests[@]}"

say "cargo leptos build --split (debug server and site for the browser tests; --split puts the pages loaded on demand into their own wasm chunks)"
cargo leptos build --split

say "Playwright in $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --config end2end/playwright.config.ts
