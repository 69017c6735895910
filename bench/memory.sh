#!/usr/bin/env bash
# Memory benchmark: peak RSS of `pyship build` for a service whose one dependency is
# a wheel holding ~1 GiB of highly compressible files. The target is < 300 MB: wheel
# contents are streamed into the layer, never held in memory.
#
# Needs: cargo build --release (or PYSHIP=path/to/pyship); bash .ci/services.sh;
# bash tests/support/base-images.sh; /usr/bin/time (apt-get install time).
# MEMORY_MIB sets the inflated size of the wheel (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."

PYSHIP=${PYSHIP:-target/release/pyship}
BASE=${BASE:-127.0.0.1:5000/pyship-test/python:3.11-slim}
MIB=${MEMORY_MIB:-1024}
LIMIT_MB=300

die() { echo "bench: $*" >&2; exit 1; }
[[ -x $PYSHIP ]] || die "$PYSHIP is missing: run 'cargo build --release' first (or set PYSHIP)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

WORK=$(mktemp -d)
SERVER=
cleanup() { [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# The wheel: 64 files of MIB/64 MiB of repeated text each, deflated.
WHEEL=bulky-1.0-py3-none-any.whl
mkdir -p "$WORK/index" "$WORK/svc"
python3 - "$WORK/index/$WHEEL" "$MIB" <<'PY'
import sys, zipfile
path, mib = sys.argv[1], int(sys.argv[2])
chunk = (b"0123456789abcdef" * 4096)  # 64 KiB
per_file = mib * 1024 * 1024 // 64
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    for i in range(64):
        with z.open(f"bulky/data{i:02}.txt", "w", force_zip64=True) as f:
            for _ in range(per_file // len(chunk)):
                f.write(chunk)
    z.writestr("bulky/__init__.py", "")
    z.writestr("bulky-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bulky\nVersion: 1.0\n")
    z.writestr("bulky-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("bulky-1.0.dist-info/RECORD", "")
PY
SHA=$(sha256sum "$WORK/index/$WHEEL" | cut -d' ' -f1)
SIZE=$(stat -c %s "$WORK/index/$WHEEL")

# pyship downloads over HTTP: serve the wheel on a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/index" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/$WHEEL" && break
  sleep 0.1
done

cat >"$WORK/svc/pyproject.toml" <<TOML
[project]
name = "svc"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["bulky"]
TOML
echo 3.11 >"$WORK/svc/.python-version"
echo "print('hi')" >"$WORK/svc/main.py"
cat >"$WORK/svc/uv.lock" <<TOML
version = 1
requires-python = ">=3.11"

[[package]]
name = "svc"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "bulky" }]

[package.metadata]
requires-dist = [{ name = "bulky" }]

[[package]]
name = "bulky"
version = "1.0"
source = { registry = "http://127.0.0.1:$PORT/simple" }
wheels = [{ url = "http://127.0.0.1:$PORT/$WHEEL", hash = "sha256:$SHA", size = $SIZE }]
TOML

echo "wheel: $((SIZE / 1024)) KiB, inflating to $MIB MiB"
PYSHIP_CACHE_DIR="$WORK/cache" /usr/bin/time -v -o "$WORK/time.txt" \
  "$PYSHIP" build "$WORK/svc" --base "$BASE" --output "oci:$WORK/out" >/dev/null 2>"$WORK/stderr" \
  || { cat "$WORK/stderr" >&2; die "the build failed"; }
KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
# The check that the build did the work: the largest layer, uncompressed.
LAYER_MIB=$(python3 - "$WORK/out/blobs/sha256" <<'PY'
import gzip, os, sys
def inflated(path):
    n = 0
    try:
        with gzip.open(path) as f:
            while chunk := f.read(1 << 20):
                n += len(chunk)
    except OSError:  # not gzip: the config, the manifest
        return 0
    return n
d = sys.argv[1]
print(max(inflated(os.path.join(d, f)) for f in os.listdir(d)) >> 20)
PY
)
echo "largest layer: $LAYER_MIB MiB uncompressed"
echo "peak RSS: $((KB / 1024)) MB (target < $LIMIT_MB MB), wall clock $SECS"
(( KB / 1024 < LIMIT_MB )) || die "peak RSS is over $LIMIT_MB MB"
