#!/usr/bin/env bash
# Builds every extension in extensions/ from source as a WebAssembly component
# (wasm32-wasip2, the small `guest` profile) into target/wasm32-wasip2/guest/.
# The sandbox tests and benchmarks load these files.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
for manifest in extensions/*/Cargo.toml; do
  name=$(awk -F'"' '/^name = / { print $2; exit }' "$manifest")
  packages+=(-p "$name")
done
exec cargo build --target wasm32-wasip2 --profile guest "${packages[@]}" "$@"
