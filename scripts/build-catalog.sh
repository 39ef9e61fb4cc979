#!/usr/bin/env bash
# Builds the first-party Community Edition extensions from source, packs each
# into a .mfx, signs it with the first-party key, and writes the signed local
# catalog (index.json + index.sig) into target/catalog/, with the first-party
# public key beside it (target/catalog/first-party.pub), which the server
# trusts at its first start.
#
# The first-party key is made once per checkout in target/first-party-key/
# (never committed); a production build would sign with the project's key
# instead (MAGFLOCK_FIRST_PARTY_KEY=<secret key file>).
set -euo pipefail
cd "$(dirname "$0")/.."

CE_EXTENSIONS=(query-insights webhook-relay naming-policy)
catalog=target/catalog
mag() { cargo run -q -p magflock-cli -- "$@"; }

./scripts/build-extensions.sh -q

key=${MAGFLOCK_FIRST_PARTY_KEY:-target/first-party-key/magflock.secret.json}
if [ ! -f "$key" ]; then
  mkdir -p "$(dirname "$key")"
  mag keys:generate --publisher magflock --out "$(dirname "$key")" >/dev/null
fi
public=${key%.secret.json}.public.json

rm -rf "$catalog"
mkdir -p "$catalog"
for name in "${CE_EXTENSIONS[@]}"; do
  crate=$(awk -F'"' '/^name = / { print $2; exit }' "extensions/$name/Cargo.toml")
  wasm="target/wasm32-wasip2/guest/${crate//-/_}.wasm"
  version=$(awk -F'"' '/^version = / { print $2; exit }' "extensions/$name/magflock.toml")
  out="$catalog/$name-$version.mfx"
  mag extension:pack "extensions/$name" --wasm "$wasm" --out "$out" >/dev/null
  mag extension:sign "$out" --key "$key" >/dev/null
done
cp "$public" "$catalog/first-party.pub"
mag catalog:build "$catalog" --key "$key"
