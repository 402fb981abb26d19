#!/usr/bin/env bash
# A real LDAP server (OpenLDAP slapd from Debian's packages) for the UserStore
# tests and the demo.
#
#   hack/ldap.sh install              install slapd and ldap-utils with apt-get when missing
#                                     (non-interactive; Debian's own slapd service is not
#                                     started)
#   hack/ldap.sh start STATE_DIR      start slapd on 127.0.0.1 and a free port, its database
#                                     in STATE_DIR, seeded from test/ldap/seed.ldif; writes
#                                     STATE_DIR/env (LDAP_URL, LDAP_BASE_DN, admin and
#                                     service bind DNs and passwords, LDAP_PID)
#   hack/ldap.sh stop STATE_DIR       stop it; waits until the process is gone
#
# Env: LDAP_PORT (default: a free port), LDAP_WATCH_PID (stop slapd when that process exits),
# LDAP_DISALLOW_ANONYMOUS=1 (refuse anonymous binds, as many directories do).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SEED="$ROOT/test/ldap/seed.ldif"
BASE_DN="dc=example,dc=com"
ADMIN_DN="cn=admin,$BASE_DN"
ADMIN_PASSWORD="admin-secret"
# The account Keycloak binds as: it may read the directory, nothing more.
SERVICE_DN="cn=keycloak,ou=services,$BASE_DN"
SERVICE_PASSWORD="keycloak-bind-secret"

log() { printf '[ldap] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

slapd_bin() {
  local b
  for b in /usr/sbin/slapd "$(command -v slapd 2>/dev/null || true)"; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return; }
  done
}

install() {
  if [ -n "$(slapd_bin)" ] && command -v ldapsearch >/dev/null && command -v ldapadd >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "slapd is missing and there is no apt-get: install OpenLDAP's slapd and ldap-utils"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  log "installing slapd and ldap-utils from Debian's packages (once)"
  # Debian's slapd package starts its own service unless policy-rc.d says no.
  local policy=/usr/sbin/policy-rc.d created_policy="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils
  } >/dev/null || rc=$?
  if [ -n "$created_policy" ]; then $sudo rm -f "$policy"; fi
  [ "$rc" = 0 ] || die "apt-get could not install slapd and ldap-utils (exit $rc)"
  [ -n "$(slapd_bin)" ] || die "apt-get installed slapd, yet no slapd binary was found"
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $(( 20000 + RANDOM % 20000 ))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
  local dir="$1"
  install
  local slapd; slapd="$(slapd_bin)"
  mkdir -p "$dir/data"
  dir="$(cd "$dir" && pwd)"
  local port="${LDAP_PORT:-}"
  if [ -z "$port" ] && [ -f "$dir/port" ]; then port="$(cat "$dir/port")"; fi
  [ -n "$port" ] || port="$(free_port)"
  echo "$port" > "$dir/port"
  local anon=""
  if [ "${LDAP_DISALLOW_ANONYMOUS:-}" = 1 ]; then anon="disallow bind_anon"; fi
  cat > "$dir/slapd.conf" <<CONF
$anon
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit unlimited
database mdb
maxsize 1073741824
suffix "$BASE_DN"
rootdn "$ADMIN_DN"
rootpw $ADMIN_PASSWORD
directory $dir/data
index objectClass eq
index uid,cn,member eq
# Passwords: users may bind with theirs; nobody reads them.
access to attrs=userPassword by self write by anonymous auth by * none
# The rest: readable by bound users (the service account), not anonymously.
access to * by users read by * none
CONF
  if [ ! -f "$dir/seeded" ]; then
    "$slapd" -T add -f "$dir/slapd.conf" -l "$SEED" >"$dir/slapadd.log" 2>&1 || { cat "$dir/slapadd.log" >&2; die "seeding failed"; }
    touch "$dir/seeded"
  fi
  # -d 0: stay in the foreground (stopped through its pid); logs to a file.
  "$slapd" -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/" -d 0 >"$dir/slapd.log" 2>&1 &
  local pid=$!
  local i
  for i in $(seq 1 100); do
    if ldapsearch -x -H "ldap://127.0.0.1:$port" -D "$SERVICE_DN" -w "$SERVICE_PASSWORD" -b "$BASE_DN" -s base dn >/dev/null 2>&1; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/slapd.log" >&2; die "slapd exited"; }
    sleep 0.1
  done
  [ "$i" -lt 100 ] || { kill "$pid" 2>/dev/null || true; cat "$dir/slapd.log" >&2; die "slapd did not answer on port $port"; }
  if [ -n "${LDAP_WATCH_PID:-}" ]; then
    # Stop slapd when the test binary goes away, whatever way it ends.
    ( while kill -0 "$LDAP_WATCH_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done; kill "$pid" 2>/dev/null || true ) >/dev/null 2>&1 &
  fi
  cat > "$dir/env" <<ENV
LDAP_URL=ldap://127.0.0.1:$port
LDAP_BASE_DN=$BASE_DN
LDAP_ADMIN_DN=$ADMIN_DN
LDAP_ADMIN_PASSWORD=$ADMIN_PASSWORD
LDAP_SERVICE_DN=$SERVICE_DN
LDAP_SERVICE_PASSWORD=$SERVICE_PASSWORD
LDAP_PID=$pid
ENV
  log "slapd ready at ldap://127.0.0.1:$port"
}

stop() {
  local dir="$1" pid
  [ -f "$dir/env" ] || return 0
  pid="$(sed -n 's/^LDAP_PID=//p' "$dir/env")"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) [ -n "${2:-}" ] || die "usage: $0 start STATE_DIR"; start "$2" ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
  *) die "usage: $0 install|start STATE_DIR|stop STATE_DIR" ;;
esac
