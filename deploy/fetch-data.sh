#!/usr/bin/env bash
# Fetches MovieLens-100K as shipped in RecBole 1.2.1's wheel on PyPI (the only data
# registry reachable from the project's machines) into data/ml-100k/ at the repo root.
# Idempotent: does nothing when the three files are already present with the right sums.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/data/ml-100k"
WHEEL_PATH="recbole/dataset_example/ml-100k"

# SHA-256 of the files inside recbole-1.2.1-py3-none-any.whl.
declare -A SUMS=(
  [ml-100k.inter]=4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff
  [ml-100k.item]=51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532
  [ml-100k.user]=4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972
)

die() { echo "fetch-data: error: $*" >&2; exit 1; }

sum_of() { sha256sum "$1" | cut -d' ' -f1; }

all_present() {
  local f
  for f in "${!SUMS[@]}"; do
    [[ -f "$DEST/$f" ]] || return 1
    [[ "$(sum_of "$DEST/$f")" == "${SUMS[$f]}" ]] || return 1
  done
  return 0
}

if all_present; then
  echo "fetch-data: $DEST already holds verified MovieLens-100K files"
  exit 0
fi

command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
PY="$(command -v python3 || true)"
[[ -n "$PY" ]] || die "python3 not found; it is needed for 'pip download' and to unpack the wheel"
"$PY" -m pip --version >/dev/null 2>&1 || die "pip is not available for $PY"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetch-data: downloading recbole==1.2.1 wheel from PyPI"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: recbole==1.2.1 -d "$TMP" \
  || die "pip download of recbole==1.2.1 failed (is PyPI reachable?)"
WHEEL="$(ls "$TMP"/recbole-1.2.1-*.whl 2>/dev/null | head -n1)"
[[ -n "$WHEEL" ]] || die "no recbole-1.2.1 wheel in $TMP after download"

# Python's zipfile avoids depending on the unzip package.
"$PY" - "$WHEEL" "$TMP/out" "$WHEEL_PATH" <<'PYEOF' || die "could not extract the data files from $WHEEL"
import sys, zipfile, os
wheel, out, prefix = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for name in ("ml-100k.inter", "ml-100k.item", "ml-100k.user"):
        member = f"{prefix}/{name}"
        data = z.read(member)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
PYEOF

for f in "${!SUMS[@]}"; do
  got="$(sum_of "$TMP/out/$f")"
  [[ "$got" == "${SUMS[$f]}" ]] || die "checksum mismatch for $f: expected ${SUMS[$f]}, got $got"
done

mkdir -p "$DEST"
for f in "${!SUMS[@]}"; do
  mv -f "$TMP/out/$f" "$DEST/$f"
done
echo "fetch-data: stored verified MovieLens-100K files in $DEST"
