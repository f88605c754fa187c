#!/usr/bin/env bash
# Rehearses CI on a loaded machine before a stop: fresh clones of HEAD (with ../shared beside
# them, as CI lays them out), each running `CI=true bash .ci/run` at the same time, so that every
# suite runs on a machine the others keep busy. Prints each run's exit code, duration and log.
#
# Usage: scripts/rehearse-ci.sh [COPIES]    (default 2: the suite and a second copy alongside)
# Env:   FC_LOCAL_REHEARSAL_CPUS   also cap the whole rehearsal to this many CPUs (e.g. 1.2) with
#                                  systemd-run's CPUQuota where systemd runs, else it is ignored
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
copies="${1:-2}"
work="$(mktemp -d /tmp/fc-local-rehearsal.XXXXXX)"
# As readable as a CI checkout: the process backend runs instances as nobody, who must reach the agents.
chmod 755 "$work"
ln -s "$(cd "$root/.." && pwd)/shared" "$work/shared"
echo "== rehearsal in $work: $copies copies of the suite at once"
pids=()
for i in $(seq 1 "$copies"); do
  git clone -q "$root" "$work/copy$i"
  # CI runs the submitted main: the clone checks out HEAD, uncommitted changes are not in it.
  (
    cd "$work/copy$i"
    start=$(date +%s)
    if [ -n "${FC_LOCAL_REHEARSAL_CPUS:-}" ] && command -v systemd-run >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
      quota=$(awk -v c="$FC_LOCAL_REHEARSAL_CPUS" 'BEGIN { printf "%d%%", c * 100 }')
      CI=true systemd-run --scope -q -p CPUQuota="$quota" bash .ci/run >"$work/copy$i.log" 2>&1 </dev/null
    else
      CI=true bash .ci/run >"$work/copy$i.log" 2>&1 </dev/null
    fi
    code=$?
    echo "copy$i: exit $code in $(( $(date +%s) - start )) s ($work/copy$i.log)"
    exit $code
  ) &
  pids+=($!)
  # The first copy installs packages and builds the image; the others start once it tests.
  if [ "$i" = 1 ] && [ "$copies" -gt 1 ]; then
    until grep -q '== tests' "$work/copy1.log" 2>/dev/null || ! kill -0 "${pids[0]}" 2>/dev/null; do sleep 2; done
  fi
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for i in $(seq 1 "$copies"); do grep -E '^ *(Tests|Test Files|Duration) |time scale|suite took' "$work/copy$i.log" | sed "s/^/copy$i: /"; done
exit $failed
