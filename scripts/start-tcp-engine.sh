#!/usr/bin/env bash
# A second Docker engine for the tests of remote engines: dockerd on tcp://127.0.0.1:PORT with
# its own data root, exec root and bridge, so that fc-local treats it as an engine that cannot
# see this machine's files (code copied in, agents reached on published ports). The offline
# runtime image is loaded into it from the first engine. Prints the engine's address.
# Needs root (a bridge and a daemon of its own). Reuses an engine already answering there.
# Usage: scripts/start-tcp-engine.sh [PORT]   (default 23750)
set -euo pipefail
port="${1:-23750}"
address="tcp://127.0.0.1:$port"
dir="${FC_LOCAL_TCP_ENGINE_DIR:-/tmp/fc-local-tcp-engine}"
image="${FC_LOCAL_RUNTIME_IMAGE:-fc-local/runtime:offline-6}"
bridge=fclocal0
mkdir -p "$dir"
if ! DOCKER_HOST="$address" docker info >/dev/null 2>&1; then
  # A bridge of its own: the first engine's docker0 is not this one's.
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add 172.29.0.1/24 dev "$bridge"
    ip link set "$bridge" up
  fi
  # Loopback only; no iptables rules of its own (the first engine's stay as they are), ports through its proxy.
  nohup dockerd --host "$address" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    --bridge "$bridge" --iptables=false --ip-masq=false >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do DOCKER_HOST="$address" docker info >/dev/null 2>&1 && break; sleep 1; done
  DOCKER_HOST="$address" docker info >/dev/null 2>&1 || { echo "the TCP engine did not start:" >&2; tail -n 30 "$dir/dockerd.log" >&2; exit 1; }
fi
if ! DOCKER_HOST="$address" docker image inspect "$image" >/dev/null 2>&1; then
  docker save "$image" | DOCKER_HOST="$address" docker load >/dev/null
fi
echo "$address"
