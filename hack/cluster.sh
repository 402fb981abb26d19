#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the test bed (make e2e-cluster):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet
# on containerd + runc with the CNI bridge, kube-proxy, CoreDNS, and an OCI
# registry the kubelet pulls the images from.
#
# Everything runs inside a network namespace this script creates (entered
# with `nsenter --net=`, never `ip netns exec`, which remounts /sys and hides
# the cgroup mounts from the kubelet). The node's address, the pod network
# and the Service network exist only there and in the pods' own namespaces:
# no interface, route or rule is added to the machine's own network
# namespace, and nothing inside can reach outside the machine.
#
# Usage: hack/cluster.sh deps        install containerd, runc, CNI plugins (apt)
#        hack/cluster.sh images      build the images into bin/cluster-images/
#        hack/cluster.sh up          start the cluster (state in $CLUSTER_STATE)
#        hack/cluster.sh down        stop everything and clean up
#        hack/cluster.sh exec CMD... run CMD inside the cluster's network, with KUBECONFIG,
#                                    kubectl and helm on PATH (for example make e2e-cluster's tests)
# Env:   CLUSTER_STATE (default tmp/cluster), CLUSTER_NETNS (default nauthera-cluster)
#
# Settings this machine needs, measured (see docs/contributing/cluster.md):
# kubelet failCgroupV1: false (the host mounts cgroup v1), cgroupDriver
# cgroupfs (no systemd), containerd restrict_oom_score_adj (root lacks
# CAP_SYS_RESOURCE).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
STATE="${CLUSTER_STATE:-$ROOT/tmp/cluster}"
NETNS="${CLUSTER_NETNS:-nauthera-cluster}"
NSPATH="/var/run/netns/$NETNS"
K8S_VERSION="${K8S_VERSION:-1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-1.14.7}"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

NODE_NAME=node1
NODE_IP=10.250.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_IP=10.96.0.10
REGISTRY=localhost:5000
IMAGES_DIR="$BIN_DIR/cluster-images"
# What kubelet 1.37 sets on the host (pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables).
KUBELET_SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

# One cluster per machine: the node's cgroups (kubepods), the kernel
# settings the kubelet changes and /var/log/pods are machine-wide, whatever
# the network namespace is called. up takes this lock in a process of the
# cluster (see lock), so it is held exactly as long as the cluster runs.
LOCK="${CLUSTER_LOCK:-/run/lock/nauthera-cluster.lock}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
in_ns() { nsenter --net="$NSPATH" "$@"; }

assets() { "$ROOT/hack/build-control-plane.sh"; }
node_assets() { "$ROOT/hack/build-control-plane.sh" cluster; }

# deps installs what the node needs from Debian, non-interactively, on a
# fresh machine (apt-get update first: a fresh machine has no package
# lists); a no-op when all is there.
deps() {
  local need=()
  command -v containerd >/dev/null || need+=(containerd)
  command -v ctr >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] \
    && [ -x /usr/lib/cni/loopback ] || need+=(containernetworking-plugins)
  command -v iptables >/dev/null || need+=(iptables)
  command -v conntrack >/dev/null || need+=(conntrack)
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs Debian's apt-get and dpkg-deb"
  command -v openssl >/dev/null || need+=(openssl)
  command -v nsenter >/dev/null || need+=(util-linux)
  command -v ip >/dev/null || need+=(iproute2)
  command -v sysctl >/dev/null || need+=(procps)
  command -v flock >/dev/null || need+=(util-linux)
  if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}" </dev/null >&2
  fi
  # The Debian package starts containerd as a service where systemd runs;
  # the test bed runs its own containerd with its own config and socket.
}

# jre_rootfs prints a Debian root file system with a headless JRE, cached
# under bin/ (the base of the Keycloak image). It is Debian's
# openjdk-17-jre-headless and its dependency closure (plus the shell and
# tools kc.sh runs), fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`: about three times faster than the debootstrap it replaced
# (which also configured a whole base system the image never uses). No
# maintainer script runs, so the one result the JRE needs from them, the
# Java trust store, is made here the way ca-certificates-java's postinst
# makes it (its own jar, fed every Mozilla CA certificate).
jre_rootfs() {
  local dir="$BIN_DIR/keycloak-base/${DEBIAN_SUITE}-openjdk17-$(recipe_hash jre_rootfs)"
  if [ ! -f "$dir/.done" ]; then
    local work="$dir.tmp" root="$dir.tmp/root" pkgs d t=$SECONDS
    [ "$(. /etc/os-release && echo "$VERSION_CODENAME")" = "$DEBIAN_SUITE" ] \
      || die "the JRE comes from this machine's apt sources: Debian $DEBIAN_SUITE needed"
    log "Debian's openjdk-17-jre-headless with its dependencies: apt-get download, dpkg-deb -x (once)"
    rm -rf "$work"; mkdir -p "$work/debs" "$root"
    apt-cache policy openjdk-17-jre-headless | grep -q 'Candidate: [0-9]' \
      || DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    # Every package the JRE and kc.sh need, recursively (Pre-Depends and
    # Depends; a virtual package's providers are all listed, harmless here).
    pkgs="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances openjdk-17-jre-headless ca-certificates-java base-files base-passwd \
      dash bash coreutils grep sed findutils | grep '^[a-z0-9]' | sort -u)"
    # shellcheck disable=SC2086 # one package per word
    (cd "$work/debs" && apt-get download -qq $pkgs 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    [ -n "$(ls "$work"/debs/openjdk-17-jre-headless_*.deb 2>/dev/null)" ] || die "apt-get download fetched no JRE"
    for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
    # What ca-certificates' and ca-certificates-java's maintainer scripts
    # would write: the PEM bundle and the Java trust store.
    (cd "$root" && cat usr/share/ca-certificates/mozilla/*.crt >etc/ssl/certs/ca-certificates.crt \
      && for c in usr/share/ca-certificates/mozilla/*.crt; do echo "+/$c"; done >tmp/cacerts.in)
    # glibc resolves the JRE's $ORIGIN rpath through /proc/self/exe.
    unshare -m sh -c "mount -t proc proc '$root/proc' && chroot '$root' /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
      -Xmx64m -jar /usr/share/ca-certificates-java/ca-certificates-java.jar -storepass changeit <'$root/tmp/cacerts.in' >/dev/null"
    rm -f "$root/tmp/cacerts.in"
    [ -s "$root/etc/ssl/certs/java/cacerts" ] || die "no Java trust store in $root"
    [ -x "$root/bin/sh" ] || die "no /bin/sh in $root"
    ls "$work/debs" >"$root/.done"
    rm -rf "$dir"; mv "$root" "$dir"; rm -rf "$work"
    log "JRE root file system ready in $((SECONDS - t))s"
  fi
  echo "$dir"
}

# recipe_hash FUNCTION...: a short hash of the named functions' text, so
# that an image cached under bin/ is rebuilt when the script part that
# builds it changes, not only when a version does.
recipe_hash() { declare -f "$@" | sha256sum | cut -c1-12; }

# keycloak_image writes the Keycloak image: the same 26.7.3 distribution the
# test bed runs, on a Debian JRE.
keycloak_image() {
  local out="$1" tool="$2" keycloak_home base
  keycloak_home="$("$ROOT/hack/keycloak.sh" fetch)"
  base="$(jre_rootfs)"
  # The layout of quay.io/keycloak/keycloak: /opt/keycloak owned by 1000,
  # KC_RUN_IN_CONTAINER=true (in dev mode Keycloak binds localhost without it;
  # it also sizes the heap from the container memory limit),
  # kc.sh as the entrypoint, the chart's args (start-dev) as the command.
  "$tool" compose --out "$out" --ref "keycloak:$KEYCLOAK_VERSION" \
    --dir "$base:/" --dir "$keycloak_home:/opt/keycloak:1000:0" --user 1000 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 --env LANG=C.UTF-8 --env KC_RUN_IN_CONTAINER=true \
    --entrypoint /opt/keycloak/bin/kc.sh >&2
}

# keycloak_archive prints the path of the Keycloak image archive, keyed by
# the Keycloak version and the hash of its recipe.
keycloak_archive() { echo "$IMAGES_DIR/keycloak-$KEYCLOAK_VERSION-$(recipe_hash keycloak_image jre_rootfs).tar"; }

# coredns_archive prints the path of the CoreDNS image archive, keyed by the
# folder of its binary (version and main package hash).
coredns_archive() { echo "$IMAGES_DIR/coredns-$(basename "$(node_assets | sed -n 2p)").tar"; }

# images builds every image the cluster pulls, as OCI archives keyed by
# version and recipe, and the registry they are pulled from. The small ones
# (pause, probe, the operator, the registry) build from this module in
# seconds and are rebuilt every time.
images() {
  local coredns tool t=$SECONDS
  coredns="$(node_assets | sed -n 2p)"
  log "node components and CoreDNS ready after $((SECONDS - t))s"
  tool="$BIN_DIR/image-tool"
  mkdir -p "$IMAGES_DIR"
  (cd "$ROOT" && CGO_ENABLED=0 go build -o "$tool" ./hack/image \
    && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$IMAGES_DIR/registry" ./hack/registry \
    && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$IMAGES_DIR/pause" ./hack/pause \
    && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$IMAGES_DIR/probe" ./hack/cluster/probe)
  "$tool" compose --out "$IMAGES_DIR/pause.tar" --ref pause:test --user 65535:65535 \
    --dir "$IMAGES_DIR/pause:/pause" --entrypoint /pause >&2
  "$tool" compose --out "$IMAGES_DIR/probe.tar" --ref probe:test --nonroot --user 65532:65532 \
    --dir "$IMAGES_DIR/probe:/probe" --entrypoint /probe >&2
  local a
  a="$(coredns_archive)"
  if [ ! -f "$a" ]; then
    "$tool" compose --out "$a.tmp" --ref "coredns:$COREDNS_VERSION" --nonroot --user 65532:65532 \
      --dir "$coredns/coredns:/coredns" --entrypoint /coredns >&2
    mv "$a.tmp" "$a"
  fi
  a="$(keycloak_archive)"
  if [ ! -f "$a" ]; then
    t=$SECONDS
    keycloak_image "$a.tmp" "$tool"
    mv "$a.tmp" "$a"
    log "Keycloak image built in $((SECONDS - t))s"
  fi
  (cd "$ROOT" && make -s image >&2)
}

# pki writes a CA and the certificates and kubeconfigs of each component.
pki() {
  local p="$STATE/pki"
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$p/ca.key" -out "$p/ca.crt" -days 2 -subj /CN=nauthera-test-ca 2>/dev/null
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  cert() { # name subject [sans]
    local n="$1" subj="$2" sans="${3:-}"
    openssl req -newkey rsa:2048 -nodes -keyout "$p/$n.key" -out "$p/$n.csr" -subj "$subj" 2>/dev/null
    local ext="$p/$n.ext"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
    [ -z "$sans" ] || echo "subjectAltName=$sans" >>"$ext"
    openssl x509 -req -in "$p/$n.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -out "$p/$n.crt" -days 2 -extfile "$ext" 2>/dev/null
  }
  cert apiserver /CN=kube-apiserver "IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=nauthera-test-admin"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  cert controller-manager /CN=system:kube-controller-manager
  cert scheduler /CN=system:kube-scheduler
  cert proxy /CN=system:kube-proxy
  local c
  for c in admin kubelet controller-manager scheduler proxy; do
    cat >"$STATE/$c.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$p/ca.crt"}
users:
- name: $c
  user: {client-certificate: "$p/$c.crt", client-key: "$p/$c.key"}
contexts:
- name: test
  context: {cluster: test, user: $c}
current-context: test
EOF
  done
}

# start NAME CMD...: runs CMD in the cluster's network namespace, in its own
# session (so down can end it and its children), logging to $STATE/logs.
start() {
  local name="$1"; shift
  mkdir -p "$STATE/logs" "$STATE/pids"
  nsenter --net="$NSPATH" setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

# wait_for WHAT SECONDS CMD...: retries CMD every half second.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { log "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

# lock starts the cluster's first process: it holds the machine-wide lock
# until down stops it. Fails at once when another run holds the lock.
lock() {
  mkdir -p "$STATE/pids" "$STATE/logs" "$(dirname "$LOCK")"
  setsid flock --nonblock --conflict-exit-code 75 "$LOCK" sh -c 'echo locked; exec sleep infinity' \
    >"$STATE/logs/lock.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/lock"
  local pid=$!
  until grep -q locked "$STATE/logs/lock.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null && { sleep 0.1; continue; }
    rm -f "$STATE/pids/lock"
    wait "$pid" 2>/dev/null
    return 1
  done
}

network() {
  mkdir -p /var/run/netns
  [ -e "$NSPATH" ] && die "network namespace $NETNS exists: run hack/cluster.sh down first"
  ls /var/run/netns >"$STATE/netns-before"
  ls /var/log/pods /var/log/containers 2>/dev/null >"$STATE/logs-before" || true
  ls /var/lib/cni/results 2>/dev/null >"$STATE/cni-results-before" || true
  ip netns add "$NETNS"
  in_ns ip link set lo up
  # The node's address, on a veth pair whose both ends stay in this
  # namespace (this kernel has no dummy interfaces): the default route goes
  # nowhere off the machine, there is no link to it.
  in_ns ip link add node0 type veth peer name node0-peer
  in_ns ip addr add "$NODE_IP/24" dev node0
  in_ns ip link set node0-peer up
  in_ns ip link set node0 up
  in_ns ip route add default dev node0
  # Service traffic between two pods on the bridge must pass iptables.
  in_ns sh -c 'echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables; echo 1 >/proc/sys/net/ipv4/ip_forward'
}

containerd_config() {
  mkdir -p "$STATE/containerd" "$STATE/cni"
  cat >"$STATE/cni/10-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$STATE/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
EOF
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$STATE/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/pause:test"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REGISTRY"]
    endpoint = ["http://$REGISTRY"]
EOF
}

kubelet_config() {
  mkdir -p "$STATE/kubelet"
  echo "search cluster.local" >"$STATE/resolv.conf"
  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host mounts cgroup v1; kubelet >= 1.35 refuses it unless told (KEP-5573).
failCgroupV1: false
# No systemd here; containerd 1.6 lacks the RuntimeConfig call, so this is what kubelet uses.
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$STATE/containerd/containerd.sock
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$STATE/pki/ca.crt"}
authorization: {mode: AlwaysAllow}
tlsCertFile: "$STATE/pki/kubelet.crt"
tlsPrivateKeyFile: "$STATE/pki/kubelet.key"
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: "$STATE/resolv.conf"
failSwapOn: false
serializeImagePulls: false
# A shared test machine: do not evict for its disk or memory use.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
maxPods: 200
EOF
}

up() {
  local assets node
  deps
  assets="$(assets)"
  node="$(node_assets | sed -n 1p)"
  [ -f "$IMAGES_DIR/pause.tar" ] && [ -f "$BIN_DIR/nauthera-image.tar" ] && [ -x "$IMAGES_DIR/registry" ] \
    && [ -f "$(keycloak_archive)" ] && [ -f "$(coredns_archive)" ] || images >/dev/null
  # Another cluster's state may be this very folder: take the lock before
  # touching it, and before the trap below could clean up what is not ours.
  local held="$STATE.lock-$$"
  rm -rf "$held"
  STATE="$held" lock || { rm -rf "$held"; die "another cluster runs on this machine (lock $LOCK held): hack/cluster.sh down in its worktree stops it"; }
  # Never start over (and so never clean up) a cluster that is running;
  # what one that was killed left (the lock is free, so none runs) goes.
  if [ -e "$LOCK.state" ] || [ -e "$NSPATH" ]; then
    recover_killed || { STATE="$held" stop lock; rm -rf "$held"; exit 1; }
  fi
  # A failed start (in any step, also inside the functions below) cleans up.
  trap 'rc=$?; if [ "$rc" != 0 ]; then log "start failed: cleaning up"; down; fi; exit "$rc"' EXIT
  rm -rf "$STATE"; mv "$held" "$STATE"
  # Where the next up finds this run's state, should this one be killed.
  printf '%s\n%s\n' "$(realpath -m "$STATE")" "$NETNS" >"$LOCK.state"
  # With protectKernelDefaults off (on, it refuses a machine with normal
  # values), the kubelet sets kernel-wide settings: record them, down puts
  # them back.
  local k
  for k in $KUBELET_SYSCTLS; do printf '%s=%s\n' "$k" "$(sysctl -n "$k")"; done >"$STATE/sysctl-before"
  network
  pki
  containerd_config
  kubelet_config
  local p="$STATE/pki"

  start registry "$IMAGES_DIR/registry" --addr "127.0.0.1:${REGISTRY##*:}" --dir "$STATE/registry"
  start etcd "$assets/etcd" --data-dir "$STATE/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --unsafe-no-fsync
  wait_for "the registry" 30 in_ns "$BIN_DIR/image-tool" push --archive "$IMAGES_DIR/pause.tar" --image "$REGISTRY/pause:test"
  # Every request of a ServiceAccount of the release namespace, with its
  # response code: the tests fail on any call the chart's RBAC forbids.
  cat >"$STATE/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts:nauthera-system"]
  - level: None
EOF
  start kube-apiserver "$assets/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --audit-policy-file="$STATE/audit-policy.yaml" --audit-log-path="$STATE/audit.log" \
    --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --kubelet-client-certificate="$p/admin.crt" --kubelet-client-key="$p/admin.key" \
    --kubelet-preferred-address-types=InternalIP
  wait_for "kube-apiserver" 180 in_ns "$assets/kubectl" --kubeconfig "$STATE/admin.kubeconfig" get --raw /readyz
  start kube-controller-manager "$node/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR"
  start kube-scheduler "$node/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for "containerd" 60 test -S "$STATE/containerd/containerd.sock"
  start kubelet "$node/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --root-dir="$STATE/kubelet/root" --cert-dir="$STATE/kubelet/pki"
  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: "$STATE/proxy.kubeconfig"}
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Inside a network namespace: leave the machine-wide conntrack limits alone.
conntrack: {maxPerCore: 0}
# Pod -> Service -> pod on the same bridge: source NAT makes replies come back through the node.
iptables: {masqueradeAll: true}
EOF
  start kube-proxy "$node/kube-proxy" --config "$STATE/kube-proxy.yaml"
  wait_for "node $NODE_NAME Ready" 180 in_ns "$assets/kubectl" --kubeconfig "$STATE/admin.kubeconfig" \
    wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  push_images
  coredns
  trap - EXIT
  log "cluster up: hack/cluster.sh exec kubectl get pods -A (KUBECONFIG=$STATE/admin.kubeconfig)"
}

push_images() {
  in_ns "$BIN_DIR/image-tool" push --archive "$(coredns_archive)" --image "$REGISTRY/coredns:$COREDNS_VERSION" >&2
  in_ns "$BIN_DIR/image-tool" push --archive "$(keycloak_archive)" --image "$REGISTRY/keycloak:$KEYCLOAK_VERSION" >&2
  in_ns "$BIN_DIR/image-tool" push --archive "$BIN_DIR/nauthera-image.tar" --image "$REGISTRY/nauthera:dev" >&2
  in_ns "$BIN_DIR/image-tool" push --archive "$IMAGES_DIR/probe.tar" --image "$REGISTRY/probe:test" >&2
}

coredns() {
  sed -e "s#@IMAGE@#$REGISTRY/coredns:$COREDNS_VERSION#" -e "s#@DNS_IP@#$DNS_IP#" "$ROOT/hack/cluster/coredns.yaml" \
    | in_ns "$BIN_DIR/kubectl" --kubeconfig "$STATE/admin.kubeconfig" apply -f - >&2
  in_ns "$BIN_DIR/kubectl" --kubeconfig "$STATE/admin.kubeconfig" -n kube-system \
    rollout status deployment/coredns --timeout=180s >&2
}

# recover_killed cleans up after a run that was killed (SIGKILL, a machine
# stopped mid-run: no trap ran, so no down), called with the lock held: no
# cluster of this script runs (CLUSTER_LOCK must be the same for every run
# on the machine). $LOCK.state, written by up and removed by down, names
# that run's state folder and network namespace: while the folder exists,
# down runs with it (mounts, pod namespaces, kernel settings, pod logs,
# cgroups); the namespace (its own, or this run's name) is removed in any
# case. Refused, touching nothing, while a process still runs in one of
# those namespaces or in the node's pod cgroups: that is no leftover.
recover_killed() {
  local prev="" prevns="" ns out n
  # /run/lock is world-writable: only a file of this user names what down
  # may act on as this user (root).
  if [ -f "$LOCK.state" ] && [ -O "$LOCK.state" ]; then
    { read -r prev || true; read -r prevns || true; } <"$LOCK.state"
  elif [ -e "$LOCK.state" ]; then
    log "ignoring $LOCK.state: not $(id -un)'s"
  fi
  prevns="${prevns:-$NETNS}"
  for ns in "$prevns" "$NETNS"; do
    [ -e "/var/run/netns/$ns" ] || continue
    out="$(ip netns pids "$ns")" || { log "cannot tell whether processes run in network namespace $ns"; return 1; }
    n="$(printf '%s' "$out" | grep -c . || true)"
    if [ "$n" != 0 ]; then
      log "network namespace $ns exists, with $n process(es) in it: a cluster runs (hack/cluster.sh down in its worktree stops it)"
      return 1
    fi
  done
  n="$(pod_processes)"
  if [ -n "$n" ]; then
    log "processes of pods still run in the kubepods cgroups (a killed cluster's containers, or another kubelet's): stop them first: $n"
    return 1
  fi
  if [[ "$prev" == /* ]] && [ -O "$prev" ] && [ -f "$prev/netns-before" ]; then
    log "a cluster run was killed (lock free, no process in its namespace $prevns): cleaning up after it ($prev)"
    # Its lock holder is dead (the lock was free); its pid may be reused.
    rm -f "$prev/pids/lock"
    (STATE="$prev"; NETNS="$prevns"; NSPATH="/var/run/netns/$prevns"; down)
  else
    log "a cluster run was killed (lock free, no process in its namespace): removing the namespace"
  fi
  for ns in "$prevns" "$NETNS"; do
    [ -e "/var/run/netns/$ns" ] || continue
    ip netns delete "$ns" 2>/dev/null || { umount "/var/run/netns/$ns" 2>/dev/null; rm -f "/var/run/netns/$ns"; }
    [ ! -e "/var/run/netns/$ns" ] || { log "could not remove /var/run/netns/$ns"; return 1; }
  done
  rm -f "$LOCK.state"
}

# pod_processes lists (pids, space-separated; empty: none) the processes
# in the node's pod cgroups (kubepods, the kubelet's; one controller's tree
# tells for all).
pod_processes() {
  local d
  for d in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods /sys/fs/cgroup/unified/kubepods /sys/fs/cgroup/kubepods; do
    if [ -d "$d" ]; then
      find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un | tr '\n' ' ' | sed 's/ $//' || true
      return
    fi
  done
}

# ours PID: whether PID runs in this cluster's network namespace (or is
# the lock holder, which runs outside it). A pid file that outlived its
# process, its number reused by a stranger, is never acted on.
ours() {
  local pid="$1"
  [ -e "/proc/$pid/ns/net" ] || return 1
  if [ "$(cat "$STATE/pids/lock" 2>/dev/null)" = "$pid" ]; then
    # flock forks for its command, so the pid stays flock's own.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "flock --nonblock --conflict-exit-code 75 $LOCK "
    return
  fi
  [ -e "$NSPATH" ] && [ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "$NSPATH")" ]
}

# stop NAME: ends the session of a process start began, then waits for it.
stop() {
  local f="$STATE/pids/$1" pid i
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if ours "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# down follows the cleanup of CLUSTER-NOTES: pods, kubelet, containers,
# containerd and its shims, mounts, namespaces, cgroups. Each step tolerates
# what a failed start did not create.
down() {
  set +e
  local kubectl="$BIN_DIR/kubectl" sock="$STATE/containerd/containerd.sock"
  # First the controllers, so that no Deployment recreates the pods deleted next.
  stop kube-scheduler
  stop kube-controller-manager
  if [ -e "$NSPATH" ] && [ -f "$STATE/pids/kube-apiserver" ]; then
    in_ns timeout 20 "$kubectl" --kubeconfig "$STATE/admin.kubeconfig" delete pods -A --all --grace-period=1 --wait=true --timeout=15s >/dev/null 2>&1
  fi
  stop kubelet
  if [ -f "$STATE/sysctl-before" ]; then
    local kv
    while IFS= read -r kv; do sysctl -qw "$kv" >/dev/null 2>&1; done <"$STATE/sysctl-before"
  fi
  stop kube-proxy
  if [ -S "$sock" ]; then
    local t c
    for t in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
    done
    sleep 0.5
    for t in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
    done
    for c in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io containers delete "$c" >/dev/null 2>&1
    done
  fi
  stop containerd
  # The shims containerd started for this state folder (and only those).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null); do
    ours "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  stop kube-apiserver
  stop etcd
  stop registry
  # Mounts under the state folder, deepest first.
  local m
  for m in $(awk -v s="$STATE/" 'index($2, s) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  # Pod sandbox namespaces (cni-*) that appeared while this cluster ran,
  # only with this run's own list of what was there before (never from
  # another worktree's state, which would remove its namespaces), then ours.
  if [ -e "$NSPATH" ]; then
    local ns
    if [ -f "$STATE/netns-before" ]; then
      for ns in $(ls /var/run/netns 2>/dev/null | grep '^cni-'); do
        grep -qx "$ns" "$STATE/netns-before" && continue
        umount "/var/run/netns/$ns" 2>/dev/null; rm -f "/var/run/netns/$ns"
      done
    fi
    ip netns delete "$NETNS" 2>/dev/null
  fi
  # Last: the node is free for the next cluster.
  [ "$(head -n 1 "$LOCK.state" 2>/dev/null)" = "$(realpath -m "$STATE")" ] && rm -f "$LOCK.state"
  stop lock
  # The pod logs the kubelet wrote (its folders are fixed: /var/log/pods, /var/log/containers).
  local f
  if [ -f "$STATE/logs-before" ]; then
    for f in /var/log/pods/* /var/log/containers/*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      grep -qx "$(basename "$f")" "$STATE/logs-before" || rm -rf "$f"
    done
  fi
  # The CNI plugins' results for this run's pods (kept when a sandbox was
  # killed rather than torn down through CNI).
  if [ -f "$STATE/cni-results-before" ]; then
    for f in /var/lib/cni/results/*; do
      [ -e "$f" ] || continue
      grep -qx "$(basename "$f")" "$STATE/cni-results-before" || rm -f "$f"
    done
  fi
  # The kubelet's cgroups, emptied now that its pods are gone.
  local ctl
  for ctl in /sys/fs/cgroup/*/; do
    [ -d "$ctl/kubepods" ] && find "$ctl/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  set -e
  return 0
}

case "${1:-}" in
  deps) deps ;;
  images) images ;;
  up) up ;;
  down) down ;;
  exec)
    shift
    a="$(assets)"
    PATH="$a:$BIN_DIR/helm-${HELM_VERSION:-3.22.0}-$(go env GOOS)-$(go env GOARCH):$PATH" \
      KUBECONFIG="$STATE/admin.kubeconfig" NAUTHERA_CLUSTER_REGISTRY="$REGISTRY" \
      NAUTHERA_CLUSTER_AUDIT_LOG="$STATE/audit.log" in_ns "$@" ;;
  *) echo "usage: hack/cluster.sh deps|images|up|down|exec CMD..." >&2; exit 2 ;;
esac
