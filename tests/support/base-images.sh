#!/usr/bin/env bash
# Makes the stand-in base images that the tests and benchmarks use, since no
# image can be pulled from outside. Each lands in the loopback registry:
#   $REG/pyship-test/python:3.11-slim  Debian bookworm minbase + python3 (debootstrap)
#   $REG/pyship-test/nopython:latest   passwd/group/tmp only, to test "no Python in base"
#   $REG/pyship-test/uv:<ver>, :latest just /uv and /uvx, for Dockerfile builds
# An image is only rebuilt when the registry lacks it; the debootstrap rootfs
# is kept as a tarball in the cache dir, so a warm run takes seconds.
# Needs: root, debootstrap, /usr/bin/docker, skopeo, the `uv` PyPI package.
set -euo pipefail

REG=${PYSHIP_TEST_REGISTRY:-127.0.0.1:5000}
CACHE=${PYSHIP_TEST_CACHE:-$HOME/.cache/pyship-test}
DOCKER=/usr/bin/docker
SUITE=bookworm

die() { echo "base-images: $*" >&2; exit 1; }

"$DOCKER" info >/dev/null 2>&1 ||
  die "Docker engine not reachable via $DOCKER; start it with: bash .ci/services.sh"
curl -fs -o /dev/null "http://$REG/v2/" ||
  die "registry http://$REG/v2/ not reachable; start it with: bash .ci/services.sh"

mkdir -p "$CACHE"
# Tests may call this concurrently; one builder at a time.
exec 9>"$CACHE/.lock"
flock 9

in_registry() { skopeo inspect --tls-verify=false --raw "docker://$1" >/dev/null 2>&1; }
digest() { skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$1"; }
push() { "$DOCKER" push -q "$1" >/dev/null || die "push of $1 failed"; }

# The Debian mirror this machine's apt uses for $SUITE (deb822 or one-line format).
debian_mirror() {
  local m
  m=$(awk -v s="$SUITE" 'BEGIN { RS = "" } {
        uri = ""; ok = 0
        for (i = 1; i <= NF; i++) { if ($i == "URIs:") uri = $(i + 1); if ($i == s) ok = 1 }
        if (ok && uri != "") { print uri; exit }
      }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $m ]] || m=$(awk -v s="$SUITE" '$1 == "deb" {
        for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\// && $(i + 1) == s) { print $i; exit }
      }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

python_image() {
  local ref=$REG/pyship-test/python:3.11-slim tar=$CACHE/python-$SUITE-rootfs.tar
  in_registry "$ref" && return
  if [[ ! -s $tar ]]; then
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    echo "base-images: debootstrap $SUITE from $mirror (about a minute)" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
      die "debootstrap failed, see $CACHE/debootstrap.log"
    # The host bundle holds the local CA that re-signs HTTPS here; containers
    # that download anything need it.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
      "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/*
    tar -C "$rootfs" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$rootfs"
  fi
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$tar" "$ref" >/dev/null
  push "$ref"
}

nopython_image() {
  local ref=$REG/pyship-test/nopython:latest dir
  in_registry "$ref" && return
  dir=$(mktemp -d)
  mkdir -p "$dir/etc" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf - etc tmp |
    "$DOCKER" import - "$ref" >/dev/null
  rm -rf "$dir"
  push "$ref"
}

# Prints the refs it made, for the summary.
uv_image() {
  local uv uvx ver dir
  uv=$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null) ||
    die "the uv PyPI package is not installed for python3 (pip install uv)"
  uvx=$(dirname "$uv")/uvx
  [[ -x $uvx ]] || die "no uvx beside $uv"
  ver=$("$uv" --version | awk '{ print $2 }')
  local ref=$REG/pyship-test/uv:$ver latest=$REG/pyship-test/uv:latest
  if ! in_registry "$ref" || ! in_registry "$latest"; then
    dir=$(mktemp -d)
    cp "$uv" "$uvx" "$dir/"
    tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf - uv uvx |
      "$DOCKER" import - "$ref" >/dev/null
    rm -rf "$dir"
    "$DOCKER" tag "$ref" "$latest"
    push "$ref"
    push "$latest"
  fi
  echo "$ref" "$latest"
}

python_image
nopython_image
uv_refs=$(uv_image)
for ref in "$REG/pyship-test/python:3.11-slim" "$REG/pyship-test/nopython:latest" $uv_refs; do
  echo "$ref $(digest "$ref")"
done
