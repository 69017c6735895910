#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each, default 60)
# with cargo-fuzz (libFuzzer). cargo-fuzz passes nightly-only flags to rustc; on a
# stable toolchain RUSTC_BOOTSTRAP=1 lets it accept them. A crash leaves its input in
# fuzz/artifacts/TARGET/ and fails the script. Not part of CI: it needs minutes per target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_EACH=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo install cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz
fi

for target in $(cargo fuzz list); do
  echo "fuzz: $target for ${SECONDS_EACH}s"
  cargo fuzz run "$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 2>&1 |
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY)' || true
  if compgen -G "artifacts/$target/crash-*" >/dev/null; then
    echo "fuzz: $target crashed; inputs in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${SECONDS_EACH}s without a crash"
