#!/bin/sh
# fc-local's container supervisor: PID 1 of every container of an agent runtime. It runs the
# agent and starts it again in the same container, /tmp emptied, when fc-local asks (hot reload):
# the agent exits with status 197 when told so over HTTP, or the supervisor gets SIGHUP. A saved
# file then costs a process start, not a container start. When the agent ends by itself (a
# crash, an OOM kill) the supervisor exits with its status, so the container ends as it would
# without it and fc-local sees why.
RESTART_CODE=197
export FC_LOCAL_SUPERVISED=1
restart=0
# The agent is idle when fc-local asks for a restart: it is killed outright, which is the
# quickest way to free its port for the next one.
trap 'restart=1; kill -KILL "$pid" 2>/dev/null' HUP
while :; do
  "$@" &
  pid=$!
  while :; do
    wait "$pid"
    code=$?
    [ "$restart" = 1 ] && break
    # wait also returns when a trapped signal arrives: only a gone agent ends the container.
    kill -0 "$pid" 2>/dev/null && continue
    [ "$code" = "$RESTART_CODE" ] && break
    exit "$code"
  done
  # Reap the killed agent (wait returned early for the signal), so its port is free.
  wait "$pid" 2>/dev/null
  rm -rf /tmp/* /tmp/.[!.]* /tmp/..?* 2>/dev/null
  restart=0
done
