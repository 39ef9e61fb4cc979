#!/usr/bin/env bash
# Installs what building MagFlock needs, skipping what is already there:
# the wasm targets, cargo-leptos 0.3.10 (no_downloads), the wasm-bindgen CLI
# matching Cargo.lock, and the npm tools (Tailwind, binaryen's wasm-opt,
# Playwright, oidc-provider for the sign-in tests). With --browser it also installs Debian's Chromium for the
# end-to-end tests. Nothing is downloaded from outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

installed_targets=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip2; do
  if ! grep -qx "$target" <<<"$installed_targets"; then
    say "rustup target add $target"
    rustup target add "$target"
  fi
done

if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
  say "Installing cargo-leptos 0.3.10 (about 15 minutes on 2 cores, once)"
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$bindgen_version" ]; then
  echo "setup-tools: cannot find wasm-bindgen's version in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen_version\$"; then
  say "Installing wasm-bindgen-cli $bindgen_version (about 4 minutes, once)"
  # Without --locked: its lockfile wants a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/@playwright/test ] || [ ! -d node_modules/oidc-provider ]; then
  say "npm ci (Tailwind, wasm-opt from binaryen, Playwright without a browser download, the OpenID provider for the sign-in tests)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  say "apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq chromium
fi
