#!/usr/bin/env bash
# Runs a command, then stops every test-bed process it may have left behind
# (Keycloak instances, kube-apiserver and etcd started from this checkout),
# also when the command fails or is interrupted.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cleanup() {
  "$ROOT/hack/keycloak.sh" stop-all
  local pids
  pids="$(pgrep -f -- "$ROOT/bin/k8s/[^ ]*/(kube-apiserver|etcd)" || true)"
  if [ -n "$pids" ]; then
    echo "[cleanup] stopping leftover control-plane processes: $pids" >&2
    kill $pids 2>/dev/null || true
    sleep 1
    kill -9 $pids 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$@"
