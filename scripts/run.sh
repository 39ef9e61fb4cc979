#!/usr/bin/env bash
# Run MagFlock: installs missing tools, builds the release binary and site, and
# starts the server on http://127.0.0.1:3000 with the embedded SQLite store in
# ./data/ (set DATABASE_URL=postgres://... to use PostgreSQL instead), with the
# first-party extensions built, signed and listed in the local catalog.
# The release site lives in target/site-release (the tests' debug site stays in
# target/site), its JS, WASM and CSS precompressed (gzip and brotli) so
# browsers get them compressed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
./scripts/build-catalog.sh
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site-release}"
cargo leptos build --release --precompress --split
mkdir -p data
export DATABASE_URL="${DATABASE_URL:-sqlite://data/magflock.db}"
exec ./target/release/magflock "$@"
