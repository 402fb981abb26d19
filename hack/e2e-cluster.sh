#!/usr/bin/env bash
# make e2e-cluster: brings up the cluster test bed (hack/cluster.sh), runs
# the tests of e2e/cluster inside its network namespace, and tears the
# cluster down on exit, also when the start or a test fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$SECONDS
hack/cluster.sh deps
hack/cluster.sh images >/dev/null
echo "[e2e-cluster] images ready after $((SECONDS - start))s" >&2
CGO_ENABLED=0 go test -c -tags e2ecluster -o bin/e2e-cluster.test ./e2e/cluster
# Another run's cluster is never torn down by this one.
if [ -e "/var/run/netns/${CLUSTER_NETNS:-nauthera-cluster}" ]; then
  echo "[e2e-cluster] a cluster runs already (network namespace ${CLUSTER_NETNS:-nauthera-cluster}): hack/cluster.sh down stops it" >&2
  exit 1
fi
trap 'hack/cluster.sh down' EXIT
hack/cluster.sh up
echo "[e2e-cluster] cluster up after $((SECONDS - start))s" >&2
hack/cluster.sh exec bin/e2e-cluster.test -test.v -test.count=1 -test.timeout=60m ${E2E_CLUSTER_RUN:+-test.run "$E2E_CLUSTER_RUN"}
echo "[e2e-cluster] passed in $((SECONDS - start))s" >&2
