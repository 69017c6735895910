#!/usr/bin/env bash
# Starts what the integration tests talk to, unless it already answers:
#   - the Docker engine (Debian's dockerd), log in /tmp/pyship-dockerd.log
#   - a plain-HTTP OCI registry on 127.0.0.1:5000, log in /tmp/pyship-registry/registry.log
#   - qemu-user-static's aarch64 emulator registered with binfmt_misc, so arm64 images run
# Safe to run again; usable by hand on a developer machine too.
set -euo pipefail

docker_up() { /usr/bin/docker info >/dev/null 2>&1; }
registry_up() { curl -fs -o /dev/null http://127.0.0.1:5000/v2/; }

# wait_for SECONDS CHECK: polls CHECK once a second.
wait_for() {
  local n=$1; shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 1; done
  return 1
}

if ! docker_up; then
  echo "services: starting dockerd"
  # setsid + nohup: the daemon must outlive this script and the test run it hands over to.
  setsid nohup /usr/sbin/dockerd >/tmp/pyship-dockerd.log 2>&1 </dev/null &
  wait_for 60 docker_up || {
    tail -n 20 /tmp/pyship-dockerd.log >&2
    echo "services: dockerd did not answer within 60 s (log: /tmp/pyship-dockerd.log)" >&2
    exit 1
  }
fi

if ! registry_up; then
  echo "services: starting registry on 127.0.0.1:5000"
  dir=/tmp/pyship-registry
  mkdir -p "$dir/data"
  # Our own config: loopback only, no auth (the packaged one binds every
  # interface and expects htpasswd), deletes on so tests can clean up.
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  setsid nohup /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  wait_for 30 registry_up || {
    tail -n 20 "$dir/registry.log" >&2
    echo "services: registry did not answer on 127.0.0.1:5000 within 30 s (log: $dir/registry.log)" >&2
    exit 1
  }
fi

# arm64 through qemu-user-static: binfmt_misc mounted, the aarch64 entry enabled (with
# the fix-binary flag Debian's package sets, so containers need no emulator inside).
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
  echo "services: mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  echo "services: registering qemu-aarch64 with binfmt_misc"
  update-binfmts --enable qemu-aarch64 ||
    update-binfmts --import qemu-aarch64 || {
    echo "services: cannot register qemu-aarch64 (install qemu-user-static and binfmt-support)" >&2
    exit 1
  }
fi
