#!/usr/bin/env bash
# Fetches, builds, starts and stops a local Keycloak for tests and the demo.
#
#   hack/keycloak.sh fetch              download from Maven Central, unpack, `kc.sh build` once;
#                                       prints the Keycloak home (cached under bin/keycloak/<version>)
#   hack/keycloak.sh start STATE_DIR    start an instance whose files live in STATE_DIR, on
#                                       127.0.0.1 and free ports; waits until it is ready and
#                                       writes STATE_DIR/env (KEYCLOAK_URL, admin login, PID)
#   hack/keycloak.sh stop STATE_DIR     stop that instance; waits until no process is left
#
# Env: KEYCLOAK_VERSION, KEYCLOAK_PORT (default: a free port), KEYCLOAK_WATCH_PID (stop the
# instance when that process exits), KEYCLOAK_START_TIMEOUT (seconds, default 240).
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

# pick_java prefers the newest JDK on the machine (Temurin 25 if present).
pick_java() {
  local j
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
    log "downloading keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central (about 200 MB)"
    if command -v mvn >/dev/null; then
      mvn -B -q -Dmaven.repo.local="$m2" dependency:get -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" -Dtransitive=false >&2
    else
      mkdir -p "$(dirname "$tgz")"
      curl -fsSL -o "$tgz.part" "https://repo.maven.apache.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
      mv "$tgz.part" "$tgz"
    fi
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
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$state/kc/" || return 1
  echo "$pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free port found"
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
  local port="${KEYCLOAK_PORT:-}" mport
  if [ -f "$state/port" ] && [ -z "$port" ]; then port="$(cat "$state/port")"; fi
  [ -n "$port" ] || port="$(free_port)"
  port_free "$port" || die "port $port is taken"
  mport="$(free_port)"
  echo "$port" >"$state/port"

  log "starting Keycloak $KEYCLOAK_VERSION on http://127.0.0.1:$port (management port $mport)"
  local t0=$SECONDS
  # setsid: the instance leads its own process group, so stop can kill all of it.
  KC_BOOTSTRAP_ADMIN_USERNAME="$ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  JAVA="$(pick_java)" setsid "$state/kc/bin/kc.sh" start --optimized \
      --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
      --http-management-port="$mport" --hostname-strict=false --cache=local \
      >"$state/keycloak.log" 2>&1 </dev/null &
  local pid=$!
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

  local url="http://127.0.0.1:$port" timeout="${KEYCLOAK_START_TIMEOUT:-240}"
  until curl -fsS -o /dev/null "http://127.0.0.1:$mport/health/ready" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 60 "$state/keycloak.log" >&2
      die "Keycloak exited during start-up (log: $state/keycloak.log)"
    fi
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      tail -n 60 "$state/keycloak.log" >&2
      stop "$state" || true
      die "Keycloak was not ready after ${timeout}s (log: $state/keycloak.log)"
    fi
    sleep 0.5
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
  if [ -f "$state/watcher.pid" ]; then
    local w; w="$(cat "$state/watcher.pid")"
    pkill -P "$w" 2>/dev/null || true # its sleep, before it is orphaned
    kill "$w" 2>/dev/null || true
  fi
  rm -f "$state/pid" "$state/env" "$state/watcher.pid"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
