#!/usr/bin/env bash
# Podman's Docker-compatible API for the tests: `podman system service` on a socket of its own,
# with the offline runtime image loaded from the Docker engine. Prints the engine's address.
# Rootful Podman raises nproc and nofile to their maximum unless told otherwise, which fails
# where root may not raise limits (a container without CAP_SYS_RESOURCE, as CI machines are):
# a containers.conf gives FC's nofile and a modest nproc instead.
# Usage: scripts/start-podman-engine.sh
set -euo pipefail
dir="${FC_LOCAL_PODMAN_DIR:-/tmp/fc-local-podman}"
image="${FC_LOCAL_RUNTIME_IMAGE:-fc-local/runtime:offline-6}"
socket="$dir/podman.sock"
address="unix://$socket"
mkdir -p "$dir"
cat >"$dir/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
CONF
export CONTAINERS_CONF="$dir/containers.conf"
if ! DOCKER_HOST="$address" docker version >/dev/null 2>&1; then
  nohup podman system service --time=0 "$address" >"$dir/service.log" 2>&1 &
  for _ in $(seq 1 60); do DOCKER_HOST="$address" docker version >/dev/null 2>&1 && break; sleep 1; done
  DOCKER_HOST="$address" docker version >/dev/null 2>&1 || { echo "podman system service did not start:" >&2; tail -n 30 "$dir/service.log" >&2; exit 1; }
fi
if ! podman image exists "$image"; then
  docker save "$image" | podman load >/dev/null
fi
echo "$address"
