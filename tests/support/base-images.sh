#!/usr/bin/env bash
# Makes the stand-in base images that the tests and benchmarks use, since no
# image can be pulled from outside. Each lands in the loopback registry:
#   $REG/pyship-test/python:3.11-slim  Debian bookworm minbase + python3 (debootstrap), an
#                                      index of linux/amd64 and linux/arm64 (the arm64
#                                      rootfs made through qemu-user-static); each platform
#                                      also under :3.11-slim-amd64 and :3.11-slim-arm64
#   $REG/pyship-test/nopython:latest   passwd/group/tmp only, to test "no Python in base"
#   $REG/pyship-test/uv:<ver>, :latest just /uv and /uvx, for Dockerfile builds
# An image is only rebuilt when the registry lacks it; the debootstrap rootfs
# is kept as a tarball in the cache dir, so a warm run takes seconds.
# Needs: root, debootstrap, qemu-user-static registered with binfmt_misc, /usr/bin/docker,
# skopeo, curl, jq, the `uv` PyPI package.
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

# rootfs_tar ARCH: the debootstrap rootfs for ARCH (amd64 natively, arm64 through
# qemu-user-static), kept as a tarball in the cache dir.
rootfs_tar() {
  local arch=$1 tar=$CACHE/python-$SUITE-rootfs.tar
  [[ $arch == amd64 ]] || tar=$CACHE/python-$SUITE-$arch-rootfs.tar
  if [[ ! -s $tar ]]; then
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    echo "base-images: debootstrap --arch=$arch $SUITE from $mirror (a minute natively, several under emulation)" >&2
    debootstrap --arch="$arch" --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap-$arch.log" 2>&1 ||
      die "debootstrap --arch=$arch failed, see $CACHE/debootstrap-$arch.log"
    # The host bundle holds the local CA that re-signs HTTPS here; containers
    # that download anything need it.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
      "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/*
    tar -C "$rootfs" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$rootfs"
  fi
  echo "$tar"
}

# platform_image ARCH REF: the rootfs imported as a one-platform image and pushed.
platform_image() {
  local arch=$1 ref=$2
  in_registry "$ref" && return
  "$DOCKER" import --platform "linux/$arch" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$(rootfs_tar "$arch")" "$ref" >/dev/null
  push "$ref"
}

# raw_manifest REPOSITORY REFERENCE: the manifest or index as the registry stores it.
raw_manifest() {
  curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$REG/v2/$1/manifests/$2"
}

# The two-platform base: each platform's image under its own tag, then an index of
# both under 3.11-slim. A one-platform 3.11-slim made before keeps its digest as the
# amd64 entry, so what was built on it before is built on the same bytes now.
python_image() {
  local repo=pyship-test/python tag=3.11-slim
  local ref=$REG/$repo:$tag
  local type
  type=$(raw_manifest "$repo" "$tag" 2>/dev/null | jq -r '.mediaType // empty' || true)
  case $type in
  *index* | *list*) return ;;
  "") platform_image amd64 "$ref-amd64" ;;
  *) in_registry "$ref-amd64" || skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$ref" "docker://$ref-amd64" >/dev/null ;;
  esac
  platform_image arm64 "$ref-arm64"
  local entries=() arch m
  for arch in amd64 arm64; do
    m=$(raw_manifest "$repo" "$tag-$arch")
    local variant=''
    [[ $arch == arm64 ]] && variant=',"variant":"v8"'
    entries+=("$(jq -cn --arg t "$(jq -r .mediaType <<<"$m")" --arg d "sha256:$(printf %s "$m" | sha256sum | cut -d' ' -f1)" \
      --argjson s "$(printf %s "$m" | wc -c)" --arg a "$arch" --argjson v "{\"os\":\"linux\",\"architecture\":\"$arch\"${variant}}" \
      '{mediaType: $t, digest: $d, size: $s, platform: $v}')")
  done
  local index
  index=$(jq -cn --argjson a "${entries[0]}" --argjson b "${entries[1]}" \
    '{schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json", manifests: [$a, $b]}')
  curl -fsS -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json' \
    --data-binary "$index" "http://$REG/v2/$repo/manifests/$tag" >/dev/null ||
    die "cannot put the two-platform index $ref"
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
