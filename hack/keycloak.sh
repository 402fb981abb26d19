#!/usr/bin/env bash
# Fetches, builds, starts and stops a local Keycloak for tests and the demo.
#
#   hack/keycloak.sh fetch              download from Maven Central with Maven (mvn), unpack,
#                                       `kc.sh build` once; prints the Keycloak home (cached
#                                       under bin/keycloak/<version>)
#   hack/keycloak.sh start STATE_DIR    start an instance whose files live in STATE_DIR, on
#                                       127.0.0.1 and free ports (picked again if another
#                                       process takes one first); waits until it is ready and
#                                       writes STATE_DIR/env (KEYCLOAK_URL, admin login, PID)
#   hack/keycloak.sh stop STATE_DIR     stop that instance; waits until no process is left
#
# Env: KEYCLOAK_VERSION, KEYCLOAK_PORT (default: a free port; a restart keeps the port of
# the first start), KEYCLOAK_WATCH_PID (stop the instance when that process exits),
# KEYCLOAK_START_TIMEOUT (seconds, default 240), KEYCLOAK_START_ATTEMPTS (default 5).
# Keycloak's runtime options in the environment (KC_*, e.g. KC_TRUSTSTORE_PATHS to trust a
# test API server's CA) reach the instance unchanged.
set -euo pipefail

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
DIST_DIR="$BIN_DIR/keycloak/$KEYCLOAK_VERSION"
HOME_DIR="$DIST_DIR/keycloak-$KEYCLOAK_VERSION"
# Build-time options. Changing them triggers a rebuild (the stamp records them).
BUILD_OPTS=(--db=dev-file --health-enabled=true --features=client-secret-rotation)
ADMIN_USER="${KEYCLOAK_ADMIN_USER:-admin}"
ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-admin}"

log() { printf '[keycloak] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# pick_java runs Keycloak on $KEYCLOAK_JAVA when set (e.g. an OpenJDK 17, to
# test on the oldest JVM Keycloak supports), else on the newest JDK on the
# machine (Temurin 25 if present).
pick_java() {
  local j
  if [ -n "${KEYCLOAK_JAVA:-}" ]; then
    [ -x "$KEYCLOAK_JAVA" ] || die "KEYCLOAK_JAVA=$KEYCLOAK_JAVA is not an executable"
    echo "$KEYCLOAK_JAVA"; return
  fi
  for j in /usr/lib/jvm/temurin-25*/bin/java /usr/lib/jvm/java-25*/bin/java /usr/lib/jvm/java-21*/bin/java; do
    [ -x "$j" ] && { echo "$j"; return; }
  done
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return; fi
  command -v java || die "no Java found: install a JDK 17+"
}

fetch() {
  local stamp="$DIST_DIR/.built" want="${BUILD_OPTS[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then echo "$HOME_DIR"; return; fi
  # Two test packages may ask at once: one fetches, the other waits for it.
  mkdir -p "$(dirname "$DIST_DIR")"
  exec 9>"$DIST_DIR.lock"
  flock 9
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then echo "$HOME_DIR"; return; fi
  local m2="${MAVEN_REPO:-$HOME/.m2/repository}"
  local tgz="$m2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  if [ ! -f "$tgz" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to download Keycloak $KEYCLOAK_VERSION" \
      "(org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz): install Maven" \
      "(e.g. apt-get install maven) and run this again"
    log "downloading keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central (about 200 MB)"
    mvn -B -q -Dmaven.repo.local="$m2" dependency:get -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" -Dtransitive=false >&2 \
      || die "mvn could not download org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz"
    [ -f "$tgz" ] || die "mvn did not leave $tgz"
  fi
  rm -rf "$DIST_DIR"; mkdir -p "$DIST_DIR"
  # The stamp is written last: an interrupted fetch or build is redone.
  tar -xzf "$tgz" -C "$DIST_DIR"
  [ -x "$HOME_DIR/bin/kc.sh" ] || die "unexpected archive layout: no $HOME_DIR/bin/kc.sh"
  log "building Keycloak once (kc.sh build ${BUILD_OPTS[*]})"
  JAVA="$(pick_java)" "$HOME_DIR/bin/kc.sh" build "${BUILD_OPTS[@]}" >"$DIST_DIR/build.log" 2>&1 \
    || { tail -n 40 "$DIST_DIR/build.log" >&2; die "kc.sh build failed"; }
  echo "$want" >"$stamp"
  echo "$HOME_DIR"
}

# running STATE_DIR: the pid recorded for the instance, if that process is
# still the instance's kc.sh (not another process that reused the pid).
running() {
  local state="$1" pid
  [ -f "$state/pid" ] || return 1
  pid="$(cat "$state/pid")"
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$state/kc/" || return 1
  echo "$pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a random free port of 127.0.0.1, other than the ports given as
# arguments. It picks between 10000 and the start of the kernel's range for the local ports
# of outgoing connections (ip_local_port_range, usually 32768-60999), where the servers that
# let the kernel choose (port 0: kube-apiserver and etcd under envtest) land too.
free_port() {
  local lo=32768 hi=60999 base=10000 span p i x
  read -r lo hi 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range || true
  span=$((lo - base))
  if [ "$span" -lt 5000 ]; then base=20000 span=30000; fi
  for i in $(seq 1 200); do
    p=$((base + (RANDOM * 32768 + RANDOM) % span))
    for x in "$@"; do [ "$p" = "$x" ] && continue 2; done
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free port found"
}

# Keycloak (Quarkus) exits with one of these in its log when a port it was given is taken.
BIND_FAILURE='Port(\(s\))? already bound|Address already in use|BindException|Unable to start HTTP server'

# stop_watcher STATE_DIR: ends the process that stops the instance when its owner exits.
stop_watcher() {
  local state="$1" w
  [ -f "$state/watcher.pid" ] || return 0
  w="$(cat "$state/watcher.pid")"
  pkill -P "$w" 2>/dev/null || true # its sleep, before it is orphaned
  kill "$w" 2>/dev/null || true
  rm -f "$state/watcher.pid"
}

start() {
  local state="${1:?usage: keycloak.sh start STATE_DIR}"
  local home pid; home="$(fetch)"
  mkdir -p "$state"; state="$(cd "$state" && pwd)"
  if pid="$(running "$state")"; then
    die "an instance is already running from $state (pid $pid)"
  fi
  # Each instance gets its own home: hard links to the built distribution (instant, no copy)
  # and a private data/ folder, so instances never share a database or transaction log.
  if [ ! -d "$state/kc" ]; then
    mkdir -p "$state/kc"
    for f in "$home"/*; do
      [ "$(basename "$f")" = data ] && continue
      cp -al "$f" "$state/kc/"
    done
    mkdir -p "$state/kc/data"
  fi
  # The HTTP port is fixed when the caller sets KEYCLOAK_PORT, and on a restart (the URL
  # stays the same); otherwise it is picked at random, like the management port. Another
  # process can take a picked port before Keycloak binds it (a few seconds of JVM start-up):
  # Keycloak then exits, and the taken port is picked again, up to KEYCLOAK_START_ATTEMPTS.
  local port="${KEYCLOAK_PORT:-}" fixed="" mport
  if [ -n "$port" ]; then
    fixed="KEYCLOAK_PORT"
  elif [ -f "$state/port" ]; then
    port="$(cat "$state/port")" fixed="$state/port (a restart keeps the URL of the first start)"
  fi
  if [ -n "$fixed" ]; then
    port_free "$port" || die "port $port is taken by another process; it is fixed by $fixed"
  fi
  local attempts="${KEYCLOAK_START_ATTEMPTS:-5}" attempt=1 t0=$SECONDS t1 ready clash
  local url timeout="${KEYCLOAK_START_TIMEOUT:-240}" klog="$state/keycloak.log"
  while :; do
    if [ -z "$fixed" ]; then port="$(free_port)"; fi
    mport="$(free_port "$port")"
    echo "$port" >"$state/port"

    log "starting Keycloak $KEYCLOAK_VERSION on http://127.0.0.1:$port (management port $mport)"
    t1=$SECONDS
    # setsid: the instance leads its own process group, so stop can kill all of it.
    KC_BOOTSTRAP_ADMIN_USERNAME="$ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    JAVA="$(pick_java)" setsid "$state/kc/bin/kc.sh" start --optimized \
        --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
        --http-management-port="$mport" --hostname-strict=false --cache=local \
        >"$klog" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$state/pid"

    if [ -n "${KEYCLOAK_WATCH_PID:-}" ]; then
      # Stops the instance when the process that asked for it is gone (a test binary that was
      # killed cannot run its cleanup).
      (
        trap '' HUP
        while kill -0 "$KEYCLOAK_WATCH_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
        kill -TERM -- "-$pid" 2>/dev/null || true
        sleep 10; kill -KILL -- "-$pid" 2>/dev/null || true
      ) </dev/null >/dev/null 2>&1 &
      echo $! >"$state/watcher.pid"
      disown
    fi

    url="http://127.0.0.1:$port" ready=""
    while :; do
      # Ready on the management port, and serving on the HTTP port: the management port is
      # up (and ready) a moment before the HTTP server finds its port taken.
      if curl -fsS -o /dev/null "http://127.0.0.1:$mport/health/ready" 2>/dev/null \
        && curl -fsS "$url/realms/master" 2>/dev/null | grep -F '"realm":"master"' >/dev/null; then
        ready=1; break
      fi
      kill -0 "$pid" 2>/dev/null || break
      if [ $((SECONDS - t1)) -ge "$timeout" ]; then
        tail -n 60 "$klog" >&2
        stop "$state" || true
        die "Keycloak was not ready after ${timeout}s (log: $klog)"
      fi
      sleep 0.5
    done
    [ -z "$ready" ] || break

    # Keycloak exited during start-up: try again on other ports if one was taken.
    stop_watcher "$state"
    kill -KILL -- "-$pid" 2>/dev/null || true
    if ! grep -qE "$BIND_FAILURE" "$klog"; then
      tail -n 60 "$klog" >&2
      die "Keycloak exited during start-up (log: $klog)"
    fi
    # The taken port(s), as Keycloak names them: "Port already bound: 8080: Address already in
    # use" (HTTP), "Unable to start the management interface on 127.0.0.1:9000" (management).
    clash="$( { grep -oE 'already bound: [0-9]+(, [0-9]+)*' "$klog" | grep -oE '[0-9]+(, [0-9]+)*$'
      grep -oE 'management interface on [^ ]+:[0-9]+' "$klog" | grep -oE '[0-9]+$'; } | head -n 1 || true)"
    cp "$klog" "$klog.$attempt"
    log "attempt $attempt/$attempts: a port was taken by another process" \
      "(${clash:+port(s) $clash; }http $port, management $mport; log: $klog.$attempt)"
    if [ -n "$fixed" ] && { [[ ", $clash," == *", $port,"* ]] || ! port_free "$port"; }; then
      die "port $port is taken by another process; it is fixed by $fixed, so no other port is tried"
    fi
    if [ "$attempt" -ge "$attempts" ]; then
      tail -n 60 "$klog" >&2
      die "Keycloak could not bind its ports in $attempts attempts (log: $klog)"
    fi
    attempt=$((attempt + 1))
    if [ -n "$fixed" ]; then log "keeping port $port, picking a new management port and trying again"
    else log "picking new ports and trying again"; fi
  done
  cat >"$state/env" <<ENV
KEYCLOAK_URL=$url
KEYCLOAK_ADMIN_USER=$ADMIN_USER
KEYCLOAK_ADMIN_PASSWORD=$ADMIN_PASSWORD
KEYCLOAK_PID=$pid
KEYCLOAK_VERSION=$KEYCLOAK_VERSION
ENV
  log "ready at $url after $((SECONDS - t0))s"
  echo "$url"
}

stop() {
  local state="${1:?usage: keycloak.sh stop STATE_DIR}"
  local pid
  [ -d "$state" ] || return 0
  state="$(cd "$state" && pwd)"
  if pid="$(running "$state")"; then
    log "stopping Keycloak (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && die "Keycloak (pid $pid) did not stop"
  fi
  stop_watcher "$state"
  rm -f "$state/pid" "$state/env"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
