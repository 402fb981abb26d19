#!/usr/bin/env bash
# make e2e-cluster: brings up the cluster test bed (hack/cluster.sh), runs
# the tests of e2e/cluster inside its network namespace, and tears the
# cluster down on exit, also when a test fails. A start that fails cleans up
# after itself (hack/cluster.sh up); a start refused because another
# cluster runs on this machine touches nothing of that cluster.
#
# Prints a timing line per phase and, like `go test`, an "ok"/"FAIL" line
# for the package, which hack/test-summary.sh (make e2e-cluster) summarises.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$SECONDS
phase() { echo "[e2e-cluster] $1 after $((SECONDS - start))s" >&2; }
hack/cluster.sh deps
phase "deps ready"
hack/cluster.sh images >/dev/null
phase "images ready"
CGO_ENABLED=0 go test -c -tags e2ecluster -o bin/e2e-cluster.test ./e2e/cluster
phase "tests built"
hack/cluster.sh up
trap 'hack/cluster.sh down; phase "cluster down"' EXIT
phase "cluster up"
t=$SECONDS
rc=0
hack/cluster.sh exec bin/e2e-cluster.test -test.v -test.count=1 -test.timeout=60m \
  ${E2E_CLUSTER_RUN:+-test.run "$E2E_CLUSTER_RUN"} || rc=$?
pkg="$(go list -tags e2ecluster ./e2e/cluster)"
if [ "$rc" = 0 ]; then
  printf 'ok  \t%s\t%ds\n' "$pkg" "$((SECONDS - t))"
  phase "passed"
else
  printf 'FAIL\t%s\t%ds\n' "$pkg" "$((SECONDS - t))"
  phase "FAILED"
fi
exit "$rc"
