#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, etcd, kubectl) and helm from
# the Go module proxy into bin/, keyed by version, so envtest runs without
# setup-envtest's download. A second run with the same versions is a no-op.
#
# Usage: hack/build-control-plane.sh            # prints the KUBEBUILDER_ASSETS dir
#        hack/build-control-plane.sh cluster    # instead: the node and cluster add-ons
#                                               # (make e2e-cluster): kubelet,
#                                               # kube-controller-manager, kube-scheduler,
#                                               # kube-proxy, CoreDNS and a registry;
#                                               # prints their dir
# Env:   K8S_VERSION, ETCD_VERSION, HELM_VERSION, COREDNS_VERSION, REGISTRY_VERSION, BIN_DIR
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"
COREDNS_VERSION="${COREDNS_VERSION:-1.14.7}"
REGISTRY_VERSION="${REGISTRY_VERSION:-3.1.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"

ASSETS="$BIN_DIR/k8s/${K8S_VERSION}-etcd${ETCD_VERSION}-${GOOS}-${GOARCH}"
HELM_DIR="$BIN_DIR/helm-${HELM_VERSION}-${GOOS}-${GOARCH}"
NODE_DIR="$BIN_DIR/k8s-node/${K8S_VERSION}-coredns${COREDNS_VERSION}-registry${REGISTRY_VERSION}-${GOOS}-${GOARCH}"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { printf '[control-plane] %s\n' "$*" >&2; }

# wrapper_module creates a throwaway module in $1 that requires $2@$3.
wrapper_module() {
  local dir="$1" mod="$2" ver="$3"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init nauthera.local/build-wrapper >/dev/null 2>&1 && go mod edit -require "$mod@$ver")
}

# kube_wrapper makes $1 a module that builds k8s.io/kubernetes commands.
kube_wrapper() {
  local work="$1"
  wrapper_module "$work" k8s.io/kubernetes "v${K8S_VERSION}"
  # k8s.io/kubernetes replaces its staging modules with local paths; a module
  # that depends on it must replace each of them with the published v0.x tag.
  local gomod
  gomod="$(cd "$work" && go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  local staging_ver="v0.${K8S_VERSION#1.}"
  local args=()
  while read -r m; do
    args+=("-replace=${m}=${m}@${staging_ver}")
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod")
  [ "${#args[@]}" -gt 10 ] || { log "found no staging replaces in $gomod"; exit 1; }
  (cd "$work" && go mod edit "${args[@]}")
}

build_kube() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "building kube-apiserver and kubectl v${K8S_VERSION} from the module proxy (about 5-8 minutes on 2 cores)"
  kube_wrapper "$work"
  (cd "$work" \
    && go get "k8s.io/kubernetes/cmd/kube-apiserver@v${K8S_VERSION}" "k8s.io/kubernetes/cmd/kubectl@v${K8S_VERSION}" \
    && go build -trimpath -ldflags="-s -w" -o "$ASSETS.tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
}

# build_node builds what a node and the rest of a control plane need beside
# kube-apiserver and etcd, one command at a time with timings (the cold
# build times are reported in the README's "The test bed").
build_node() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  kube_wrapper "$work"
  local c t
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    t=$SECONDS
    (cd "$work" && go get "k8s.io/kubernetes/cmd/$c@v${K8S_VERSION}" \
      && go build -trimpath -ldflags="-s -w" -o "$NODE_DIR.tmp/" "k8s.io/kubernetes/cmd/$c")
    log "built $c v${K8S_VERSION} in $((SECONDS - t))s"
  done
  # CoreDNS's main package is its module's root.
  t=$SECONDS
  wrapper_module "$work/coredns" github.com/coredns/coredns "v${COREDNS_VERSION}"
  (cd "$work/coredns" && go get "github.com/coredns/coredns@v${COREDNS_VERSION}" \
    && go build -trimpath -ldflags="-s -w" -o "$NODE_DIR.tmp/coredns" github.com/coredns/coredns)
  log "built coredns v${COREDNS_VERSION} in $((SECONDS - t))s"
  t=$SECONDS
  wrapper_module "$work/registry" github.com/distribution/distribution/v3 "v${REGISTRY_VERSION}"
  (cd "$work/registry" && go get "github.com/distribution/distribution/v3/cmd/registry@v${REGISTRY_VERSION}" \
    && go build -trimpath -ldflags="-s -w" -o "$NODE_DIR.tmp/registry" github.com/distribution/distribution/v3/cmd/registry)
  log "built registry (distribution) v${REGISTRY_VERSION} in $((SECONDS - t))s"
}

build_etcd() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "building etcd v${ETCD_VERSION} from the module proxy"
  # etcd's go.mod carries local replaces, so `go install @version` refuses it;
  # building it as a dependency of a wrapper module ignores those.
  wrapper_module "$work" go.etcd.io/etcd/server/v3 "v${ETCD_VERSION}"
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" \
    && go build -trimpath -ldflags="-s -w" -o "$ASSETS.tmp/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {
  log "building helm v${HELM_VERSION} from the module proxy"
  mkdir -p "$HELM_DIR.tmp"
  GOBIN="$HELM_DIR.tmp" go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}"
}

if [ "${1:-}" = cluster ]; then
  missing=""
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy coredns registry; do
    [ -x "$NODE_DIR/$c" ] || missing="$missing $c"
  done
  if [ -n "$missing" ]; then
    rm -rf "$NODE_DIR.tmp"; mkdir -p "$NODE_DIR.tmp"
    start=$SECONDS
    build_node
    rm -rf "$NODE_DIR"; mv "$NODE_DIR.tmp" "$NODE_DIR"
    log "node components built in $((SECONDS - start))s into $NODE_DIR"
  fi
  ln -sfn "$NODE_DIR" "$BIN_DIR/k8s-node/current"
  echo "$NODE_DIR"
  exit 0
fi
if [ ! -x "$ASSETS/kube-apiserver" ] || [ ! -x "$ASSETS/etcd" ] || [ ! -x "$ASSETS/kubectl" ]; then
  rm -rf "$ASSETS.tmp"; mkdir -p "$ASSETS.tmp"
  start=$SECONDS
  build_kube
  build_etcd
  rm -rf "$ASSETS"; mv "$ASSETS.tmp" "$ASSETS"
  log "control plane built in $((SECONDS - start))s into $ASSETS"
fi

if [ ! -x "$HELM_DIR/helm" ]; then
  rm -rf "$HELM_DIR.tmp"
  build_helm
  rm -rf "$HELM_DIR"; mv "$HELM_DIR.tmp" "$HELM_DIR"
fi

# Stable paths for tools that do not care about versions.
mkdir -p "$BIN_DIR"
ln -sfn "$ASSETS" "$BIN_DIR/k8s/current"
ln -sfn "$ASSETS/kubectl" "$BIN_DIR/kubectl"
ln -sfn "$HELM_DIR/helm" "$BIN_DIR/helm"
echo "$ASSETS"
