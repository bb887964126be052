#!/usr/bin/env bash
# A private PostgreSQL server for the tests (docs/TESTING.md): one folder
# holds its data, its log, its Unix socket and the URI to connect to. It
# never touches Debian's own cluster (/etc/postgresql, port 5432).
#
#   scripts/pg-test-server.sh start DIR    # new server in DIR; prints its URI
#   scripts/pg-test-server.sh stop DIR     # stops it and removes DIR
#   scripts/pg-test-server.sh kill DIR     # stops it at once (-m immediate), keeps DIR
#   scripts/pg-test-server.sh resume DIR   # starts it again on the same port
#   scripts/pg-test-server.sh restart DIR  # immediate stop + start, same port
#   scripts/pg-test-server.sh status DIR   # prints the URI when it runs (exit 0), else exit 3
#
# DIR after `start`:
#   data/          the cluster (initdb: superuser `honeycomb`, trust auth, C locale, UTF8)
#   postgres.log   the server's log
#   uri            postgresql://honeycomb@127.0.0.1:PORT/postgres
#   port           PORT (a free port on 127.0.0.1, kept across kill/resume/restart)
#   .s.PGSQL.PORT  the Unix socket (when DIR is short enough for one)
#
# As root, the server runs as the system user honeycomb-pg (created when
# missing; initdb and postgres refuse to run as root) and DIR belongs to it;
# every folder above DIR must be open for traversal (scripts/open-for-pots.sh
# opens the checkout's). Otherwise it runs as the calling user.
# HONEYCOMB_PG_BINDIR picks the server binaries (default: the newest
# /usr/lib/postgresql/*/bin); HONEYCOMB_PG_TIMEOUT bounds each wait (seconds, 60).
#
# A test server skips the disk flushes (fsync = off, full_page_writes = off):
# nothing of it has to survive the machine crashing. HONEYCOMB_PG_DURABLE=1
# at `start` makes a durable one instead, as a production server is
# (fsync, full_page_writes and synchronous_commit on; initdb syncs), for
# benchmarks (bench/core_postgres); kill/resume/restart keep the setting.
set -euo pipefail

readonly SERVICE_USER=honeycomb-pg
readonly DB_SUPERUSER=honeycomb
readonly MARKER=.honeycomb-pg-test
readonly START_ATTEMPTS=5
TIMEOUT="${HONEYCOMB_PG_TIMEOUT:-60}"
DURABLE="${HONEYCOMB_PG_DURABLE:-0}"
me="pg-test-server"

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

short_usage() {
  echo "usage: $0 start|stop|kill|resume|restart|status DIR   ($0 --help for more)" >&2
}

die() { echo "$me: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }

# ---- what is needed ---------------------------------------------------------

find_bindir() {
  local d
  if [ -n "${HONEYCOMB_PG_BINDIR:-}" ]; then
    BINDIR="$HONEYCOMB_PG_BINDIR"
  else
    BINDIR=""
    # Debian installs each major version in its own folder; take the newest.
    # (Not /usr/bin's pg_wrapper nor anything in /usr/local/bin.)
    while read -r d; do
      if [ -x "$d/postgres" ]; then BINDIR="$d"; break; fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    [ -n "$BINDIR" ] || die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: run scripts/install-deps.sh (Debian package postgresql)"
  fi
  local tool
  for tool in initdb postgres pg_ctl pg_isready; do
    [ -x "$BINDIR/$tool" ] || die "$BINDIR/$tool not found: run scripts/install-deps.sh (Debian packages postgresql, postgresql-client)"
  done
}

# As root: the unprivileged user the server runs as (created once).
ensure_service_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    command -v useradd >/dev/null || die "useradd not found (Debian package passwd): cannot create the user $SERVICE_USER"
    # Two starts at once may both try; the loser finds the user made.
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "honeycomb test PostgreSQL" "$SERVICE_USER" 2>/dev/null ||
      id -u "$SERVICE_USER" >/dev/null 2>&1 || die "could not create the system user $SERVICE_USER (useradd failed)"
    say "created the system user $SERVICE_USER for test servers"
  fi
}

# Runs a command as the server's user: ourselves, or honeycomb-pg when we are
# root. The lock's descriptor (9) is closed for it so that a postgres started
# through it does not hold the lock for its whole life.
as_server_user() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@" 9>&-
  elif command -v setpriv >/dev/null; then
    setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups \
      env HOME="$DIR" USER="$SERVICE_USER" LOGNAME="$SERVICE_USER" "$@" 9>&-
  elif command -v runuser >/dev/null; then
    runuser -u "$SERVICE_USER" -- env HOME="$DIR" "$@" 9>&-
  else
    die "neither setpriv nor runuser found (Debian package util-linux): cannot drop root for initdb/postgres"
  fi
}

# As root, the server's user must reach DIR: every folder above it needs o+x.
check_reachable() {
  [ "$(id -u)" -eq 0 ] || return 0
  local d="$DIR"
  while [ "$d" != "/" ]; do
    d="$(dirname "$d")"
    as_server_user test -x "$d" ||
      die "$d is closed to the user $SERVICE_USER (no o+x), who runs the server: open it (chmod o+x; scripts/open-for-pots.sh does it for the checkout) or choose a DIR under /tmp"
  done
}

# ---- the folder ---------------------------------------------------------------

set_dir() {
  [ -n "${1:-}" ] || { short_usage; exit 2; }
  case "$1" in *$'\n'*) die "DIR must not contain a newline" ;; esac
  DIR="$(realpath -m -- "$1")"
  [ "$DIR" != "/" ] || die "DIR must not be /"
  DATA="$DIR/data"
  LOG="$DIR/postgres.log"
}

# Only a folder this script made (it holds the marker) is ever emptied.
check_ours() {
  if [ -e "$DIR" ] && [ ! -d "$DIR" ]; then
    die "$DIR exists and is not a folder: refusing to touch it"
  fi
  if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -e "$DIR/$MARKER" ]; then
    die "$DIR exists, is not empty and was not made by this script (no $MARKER in it): refusing to touch it"
  fi
}

# One operation at a time on one DIR (two ctest runs on one build tree, say).
# `stop` removes the lock file with DIR; whoever was waiting on that file
# then holds a lock on a removed file, notices and locks the new one.
lock_dir() {
  LOCK="${TMPDIR:-/tmp}/honeycomb-pg-test.$(printf '%s' "$DIR" | sha1sum | cut -c1-16).lock"
  while true; do
    exec 9>>"$LOCK"
    flock -w "$TIMEOUT" 9 || die "another $me is working on $DIR (lock $LOCK) for more than ${TIMEOUT}s"
    if [ "$(stat -c %d:%i "$LOCK" 2>/dev/null)" = "$(stat -L -c %d:%i /dev/fd/9)" ]; then
      return 0
    fi
    exec 9>&-
  done
}

quote_conf() { printf "'%s'" "${1//\'/\'\'}"; }

# The server's settings, rewritten for each port tried. A file of our own,
# included at the end of postgresql.conf, so every start (pg_ctl start,
# restart) uses them without command-line options.
write_conf() {
  local port="$1" sockets="$DIR"
  # sun_path holds 107 bytes: DIR/.s.PGSQL.65535 must fit, or no Unix socket
  # (the tests connect over TCP; the socket is for a person with psql -h DIR).
  if [ $(( ${#DIR} + 15 )) -gt 107 ]; then
    sockets=""
    say "$DIR is too long a path for a Unix socket in it: TCP only"
  fi
  local durability
  if [ "$DURABLE" = 1 ]; then
    durability="# HONEYCOMB_PG_DURABLE=1: durable, as a production server is (benchmarks):
# a commit returns once its WAL is on the disk, and a page's first change
# after a checkpoint is logged whole (no torn page after a power cut).
fsync = on
full_page_writes = on
synchronous_commit = on"
  else
    durability="# fsync and full-page writes only protect against the operating system
# crashing or losing power (a torn page, writes still in its cache). The
# machine does not crash during a test run; a server killed with
# \"pg_ctl stop -m immediate\" or SIGKILL (kill/restart below) still recovers
# from its WAL, since everything written reached the kernel. The code under
# test still commits synchronously (synchronous_commit stays on): only the
# disk flushes under it are skipped.
fsync = off
full_page_writes = off"
  fi
  as_server_user tee "$DATA/honeycomb-test.conf" >/dev/null <<EOF
# Written by scripts/pg-test-server.sh: a throwaway server for tests.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = $(quote_conf "$sockets")
max_connections = 300
shared_buffers = 128MB
$durability
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# The postmaster of DATA is alive: its pid file names a live process called
# postgres. (Not `pg_ctl status`: a postmaster killed with SIGKILL stays a
# zombie until init reaps it, and pg_ctl takes that for a running server.)
running() {
  local pid stat
  [ -f "$DATA/postmaster.pid" ] || return 1
  pid="$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}

port_of() { cat "$DIR/port" 2>/dev/null || true; }

uri_for() { echo "postgresql://$DB_SUPERUSER@127.0.0.1:$1/postgres"; }

log_since() { tail -c +"$(( $1 + 1 ))" "$LOG" 2>/dev/null || true; }

log_size() { stat -c %s "$LOG" 2>/dev/null || echo 0; }

# A port nothing uses on 127.0.0.1, below the kernel's ephemeral range (where
# clients' source ports come from; tests/e2e/conftest.py's free_port does the
# same). Racy by nature: the start retries on another port if it is lost.
pick_port() {
  local py
  py="$(command -v /usr/bin/python3 python3 2>/dev/null | head -n1 || true)"
  if [ -n "$py" ]; then
    "$py" - <<'EOF'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
first = 10000 if low > 12000 else 1024
for _ in range(200):
    port = random.randrange(first, low)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
EOF
  else
    # No Python: a port no one answers on (a bind that then fails is retried).
    local port _
    for _ in $(seq 200); do
      port=$(( 10000 + (RANDOM * 32768 + RANDOM) % 22000 ))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port"; return 0
      fi
    done
    die "no free TCP port found on 127.0.0.1"
  fi
}

# Polls pg_isready over TCP until the server accepts connections, failing at
# once when the postmaster is gone and at the deadline otherwise.
wait_ready() {
  local port="$1" deadline=$(( SECONDS + TIMEOUT )) rc
  while true; do
    rc=0
    "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$DB_SUPERUSER" -d postgres -t 2 9>&- || rc=$?
    [ "$rc" -eq 0 ] && return 0
    if ! running; then
      fail_with_log "the server of $DIR stopped before accepting connections on 127.0.0.1:$port" 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail_with_log "the server of $DIR did not accept connections on 127.0.0.1:$port within ${TIMEOUT}s (pg_isready: $rc)" 0
    fi
    sleep 0.05
  done
}

fail_with_log() {
  say "$1; $LOG says:"
  log_since "$2" | tail -n 30 >&2
  if [ -s "$DIR/pg_ctl.log" ]; then
    say "and pg_ctl said:"
    tail -n 5 "$DIR/pg_ctl.log" >&2
  fi
  exit 1
}

# pg_ctl -w: returns once the postmaster is ready, and at once when it dies.
pg_ctl_start() {
  as_server_user "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$TIMEOUT" -s start >/dev/null 2>>"$DIR/pg_ctl.log"
}

stop_server() {
  local mode="$1"
  running || return 0
  if ! as_server_user "$BINDIR/pg_ctl" -D "$DATA" -m "$mode" -w -t "$TIMEOUT" -s stop 2>>"$DIR/pg_ctl.log"; then
    [ "$mode" = immediate ] && die "pg_ctl could not stop the server of $DIR (see $DIR/pg_ctl.log)"
    say "the server of $DIR did not stop (-m $mode) within ${TIMEOUT}s: stopping it with -m immediate"
    as_server_user "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t "$TIMEOUT" -s stop 2>>"$DIR/pg_ctl.log" ||
      die "pg_ctl could not stop the server of $DIR (see $DIR/pg_ctl.log)"
  fi
}

# ---- subcommands ----------------------------------------------------------------

cmd_start() {
  check_ours
  if [ -d "$DIR" ] && running; then
    say "a server from $DIR is running: stopping it first"
    stop_server immediate
  fi
  rm -rf -- "$DIR"
  mkdir -p -- "$DIR"
  touch "$DIR/$MARKER"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$SERVICE_USER:$SERVICE_USER" "$DIR" "$DIR/$MARKER"
  fi
  chmod 0755 "$DIR"
  check_reachable
  cd "$DIR"   # a working folder the server's user may enter

  # --no-sync: nothing of a test cluster has to survive a crash of the machine.
  local nosync=(--no-sync)
  if [ "$DURABLE" = 1 ]; then nosync=(); fi
  if ! as_server_user "$BINDIR/initdb" -D "$DATA" --username="$DB_SUPERUSER" \
      --auth-local=trust --auth-host=trust --locale=C -E UTF8 "${nosync[@]}" --no-instructions \
      >"$DIR/initdb.log" 2>&1; then
    say "initdb failed; $DIR/initdb.log says:"
    tail -n 30 "$DIR/initdb.log" >&2
    exit 1
  fi
  printf "\ninclude 'honeycomb-test.conf'\n" | as_server_user tee -a "$DATA/postgresql.conf" >/dev/null

  local attempt port offset
  for attempt in $(seq "$START_ATTEMPTS"); do
    port="$(pick_port)"
    write_conf "$port"
    offset="$(log_size)"
    if pg_ctl_start; then
      break
    fi
    # Someone took the port between the probe and the bind: another one.
    if log_since "$offset" | grep -q -E "Address already in use|could not bind|could not create any TCP/IP sockets"; then
      say "port $port was taken meanwhile (attempt $attempt of $START_ATTEMPTS): trying another"
      running && stop_server immediate
      [ "$attempt" -lt "$START_ATTEMPTS" ] && continue
    fi
    fail_with_log "the server of $DIR did not start on 127.0.0.1:$port" "$offset"
  done

  echo "$port" >"$DIR/port.tmp" && mv "$DIR/port.tmp" "$DIR/port"
  uri_for "$port" >"$DIR/uri.tmp" && mv "$DIR/uri.tmp" "$DIR/uri"
  wait_ready "$port"
  cat "$DIR/uri"
}

need_cluster() {
  if [ ! -f "$DATA/PG_VERSION" ] || [ ! -s "$DIR/port" ]; then
    die "no test server in $DIR: run \"$0 start $DIR\" first"
  fi
  check_reachable
  cd "$DIR"
}

cmd_stop() {
  if [ ! -e "$DIR" ]; then
    say "$DIR does not exist: nothing to stop"
    rm -f -- "$LOCK"
    return 0
  fi
  check_ours
  if [ -f "$DATA/PG_VERSION" ]; then
    cd "$DIR"
    stop_server fast
  fi
  cd /
  rm -rf -- "$DIR"
  rm -f -- "$LOCK"
}

cmd_kill() {
  need_cluster
  if ! running; then
    say "the server of $DIR is not running"
    return 0
  fi
  stop_server immediate
}

# Starts the stopped server of DIR again on its port. After a postmaster was
# killed with SIGKILL, retries (up to the deadline) while it is a zombie not
# yet reaped by init (postgres takes its pid file for a live server's) and
# while its children, which exit once they notice, still hold its shared
# memory.
start_same_port() {
  local port="$1" offset deadline=$(( SECONDS + TIMEOUT ))
  while true; do
    offset="$(log_size)"
    pg_ctl_start && return 0
    if log_since "$offset" | grep -q -E "Address already in use|could not bind|could not create any TCP/IP sockets"; then
      fail_with_log "port $port on 127.0.0.1 is taken by another process: the server of $DIR cannot start again on it" "$offset"
    fi
    if log_since "$offset" | grep -q -E 'pre-existing shared memory block|lock file "postmaster.pid" already exists' &&
        [ "$SECONDS" -lt "$deadline" ]; then
      sleep 0.05
      continue
    fi
    fail_with_log "the server of $DIR did not start again on 127.0.0.1:$port" "$offset"
  done
}

cmd_resume() {
  need_cluster
  local port
  port="$(port_of)"
  if ! running; then
    start_same_port "$port"
  fi
  wait_ready "$port"
  cat "$DIR/uri"
}

cmd_restart() {
  need_cluster
  local port offset
  port="$(port_of)"
  if running; then
    offset="$(log_size)"
    # -m immediate: no checkpoint, clients cut off; the start recovers from
    # the WAL, as after a crash of the server.
    if ! as_server_user "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -m immediate -w -t "$TIMEOUT" -s restart \
        >/dev/null 2>>"$DIR/pg_ctl.log"; then
      fail_with_log "the server of $DIR did not restart on 127.0.0.1:$port" "$offset"
    fi
  else
    say "the server of $DIR was not running: starting it"
    start_same_port "$port"
  fi
  wait_ready "$port"
  cat "$DIR/uri"
}

cmd_status() {
  if [ -f "$DATA/PG_VERSION" ] && [ -s "$DIR/port" ]; then
    cd "$DIR"
    if running; then
      cat "$DIR/uri"
      return 0
    fi
  fi
  say "no test server is running from $DIR"
  exit 3
}

case "${1:-}" in
  -h|--help|help) usage; exit 0 ;;
  start|stop|kill|resume|restart|status) ;;
  "") short_usage; exit 2 ;;
  *) say "unknown command \"$1\""; short_usage; exit 2 ;;
esac
command="$1"
[ $# -eq 2 ] || { short_usage; exit 2; }
case "$DURABLE" in 0|1) ;; *) die "HONEYCOMB_PG_DURABLE must be 0 or 1, not \"$DURABLE\"" ;; esac
set_dir "$2"
cd /   # DIR is absolute; the server's user may not enter the caller's folder
find_bindir
ensure_service_user
lock_dir
# pg_ctl's own messages, kept per command (fail_with_log shows them).
if [ -d "$DIR" ] && [ -e "$DIR/$MARKER" ]; then : >"$DIR/pg_ctl.log"; fi
"cmd_$command"
