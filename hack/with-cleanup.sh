#!/usr/bin/env bash
# Runs a command, then stops every process it left behind (Keycloak
# instances, kube-apiserver, etcd), also when the command fails or is
# interrupted. Processes are recognised by a run id in their environment,
# which they inherit from this script: a developer's own Keycloak, or a
# second run in parallel, is never touched.
set -uo pipefail

# Set for the command only, not exported here: this script's own subshells
# must not match.
NAUTHERA_RUN_ID="run-$$-$RANDOM"

run_pids() {
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "NAUTHERA_RUN_ID=$NAUTHERA_RUN_ID"; then
      echo "${p#/proc/}"
    fi
  done
}

cleanup() {
  local pids
  pids="$(run_pids | tr '\n' ' ')"
  [ -n "${pids// /}" ] || return 0
  echo "[cleanup] stopping processes left by this run: $pids" >&2
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 20); do
    [ -n "$(run_pids)" ] || return 0
    sleep 0.5
  done
  kill -KILL $(run_pids) 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
NAUTHERA_RUN_ID="$NAUTHERA_RUN_ID" "$@"
