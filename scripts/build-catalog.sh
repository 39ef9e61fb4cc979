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

# A second, test-only catalog for the browser tests (target/test-catalog,
# never shipped): the CE extensions above, the hostile test extension, and
# three versions of the steady test extension built from the same component:
# 1.0.0 as written, 1.0.1 with the same capabilities (an upgrade that needs
# no approval) and 1.1.0 asking for one capability more (an upgrade that
# waits for one). All signed with the first-party key.
test_catalog=target/test-catalog
rm -rf "$test_catalog"
mkdir -p "$test_catalog"
cp "$catalog"/*.mfx "$test_catalog"/
pack_signed() { # <folder with magflock.toml> <component> <package>
  mag extension:pack "$1" --wasm "$2" --out "$3" >/dev/null
  mag extension:sign "$3" --key "$key" >/dev/null
}
guest=target/wasm32-wasip2/guest
pack_signed extensions/hostile "$guest/magflock_ext_hostile.wasm" "$test_catalog/hostile-0.1.0.mfx"
pack_signed extensions/steady "$guest/magflock_ext_steady.wasm" "$test_catalog/steady-1.0.0.mfx"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for version in 1.0.1 1.1.0; do
  mkdir -p "$scratch/$version"
  sed "s/^version = \"1.0.0\"$/version = \"$version\"/" extensions/steady/magflock.toml >"$scratch/$version/magflock.toml"
done
cat >>"$scratch/1.1.0/magflock.toml" <<'TOML'

[[capabilities]]
name = "system.background_jobs"
justification = "Queues its pings to answer them later."
TOML
for version in 1.0.1 1.1.0; do
  grep -q "^version = \"$version\"$" "$scratch/$version/magflock.toml"
  pack_signed "$scratch/$version" "$guest/magflock_ext_steady.wasm" "$test_catalog/steady-$version.mfx"
done
cp "$public" "$test_catalog/first-party.pub"
mag catalog:build "$test_catalog" --key "$key" --name "MagFlock test catalog"
