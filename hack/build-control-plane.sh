#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, etcd, kubectl) and helm from
# the Go module proxy into bin/, keyed by version, so envtest runs without
# setup-envtest's download. A second run with the same versions is a no-op.
#
# Usage: hack/build-control-plane.sh            # prints the KUBEBUILDER_ASSETS dir
#        hack/build-control-plane.sh cluster    # instead: the node and cluster add-ons
#                                               # (make e2e-cluster): kubelet,
#                                               # kube-controller-manager, kube-scheduler,
#                                               # kube-proxy and CoreDNS (with
#                                               # `coredns`: only CoreDNS); prints
#                                               # the folder of each, one a line
# Env:   K8S_VERSION, ETCD_VERSION, HELM_VERSION, COREDNS_VERSION, BIN_DIR
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"
COREDNS_VERSION="${COREDNS_VERSION:-1.14.7}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"

ASSETS="$BIN_DIR/k8s/${K8S_VERSION}-etcd${ETCD_VERSION}-${GOOS}-${GOARCH}"
HELM_DIR="$BIN_DIR/helm-${HELM_VERSION}-${GOOS}-${GOARCH}"
NODE_DIR="$BIN_DIR/k8s-node/${K8S_VERSION}-${GOOS}-${GOARCH}"
# CoreDNS is keyed by its version and by the hash of the main package this
# repo builds it from (hack/cluster/coredns/main.go).
COREDNS_DIR="$BIN_DIR/coredns/${COREDNS_VERSION}-$(sha256sum "$ROOT/hack/cluster/coredns/main.go" | cut -c1-12)-${GOOS}-${GOARCH}"

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

# build_node builds the kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy with ONE `go get` and ONE `go build`: one module resolution,
# and the go command schedules the packages they share (client-go,
# apimachinery, most of k8s.io/kubernetes/pkg) once across all cores. The
# packages kube-apiserver shares with them come from the Go build cache of
# its own earlier build (same versions, -trimpath), so building them in its
# go invocation too would save little more.
build_node() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  kube_wrapper "$work"
  local c pkgs=() t=$SECONDS
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "building ${pkgs[*]##*/} v${K8S_VERSION} from the module proxy"
  (cd "$work" && go get "${pkgs[@]/%/@v${K8S_VERSION}}" \
    && go build -trimpath -ldflags="-s -w" -o "$NODE_DIR.tmp/" "${pkgs[@]}")
  log "built the node components v${K8S_VERSION} in $((SECONDS - t))s"
}

# build_coredns builds hack/cluster/coredns/main.go (CoreDNS's coremain with
# only the plugins the test bed's Corefile uses) against CoreDNS's module.
build_coredns() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  local t=$SECONDS
  log "building coredns v${COREDNS_VERSION} (only the Corefile's plugins) from the module proxy"
  wrapper_module "$work" github.com/coredns/coredns "v${COREDNS_VERSION}"
  cp "$ROOT/hack/cluster/coredns/main.go" "$work/main.go"
  sed -i '/^\/\/go:build ignore$/d' "$work/main.go"
  local pkgs
  pkgs="$(sed -n 's#^[[:space:]]*_\{0,1\}[[:space:]]*"\(github.com/coredns/coredns/[^"]*\)"#\1#p' "$work/main.go")"
  # shellcheck disable=SC2086 # one package per word
  (cd "$work" && go get $(printf '%s@v'"${COREDNS_VERSION}"' ' $pkgs) \
    && go build -trimpath -ldflags="-s -w" -o "$COREDNS_DIR.tmp/coredns" .)
  log "built coredns v${COREDNS_VERSION} in $((SECONDS - t))s"
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
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    [ -x "$NODE_DIR/$c" ] || missing="$missing $c"
  done
  if [ -n "$missing" ]; then
    rm -rf "$NODE_DIR.tmp"; mkdir -p "$NODE_DIR.tmp"
    build_node
    rm -rf "$NODE_DIR"; mv "$NODE_DIR.tmp" "$NODE_DIR"
  fi
  if [ ! -x "$COREDNS_DIR/coredns" ]; then
    rm -rf "$COREDNS_DIR.tmp"; mkdir -p "$COREDNS_DIR.tmp"
    build_coredns
    rm -rf "$COREDNS_DIR"; mv "$COREDNS_DIR.tmp" "$COREDNS_DIR"
  fi
  echo "$NODE_DIR"
  echo "$COREDNS_DIR"
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
