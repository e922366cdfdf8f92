#!/usr/bin/env bash
# Usage: scripts/services.sh start|stop|status [SERVER...]
#
# The real servers the adapter tests run against, all on 127.0.0.1 and on
# non-default ports so that they never meet a developer's own servers:
#
#   redis            Redis standalone           6390
#   redis-cluster    Redis Cluster, 3 masters   7000 7001 7002
#   redis-sentinel   Sentinel watching 6390     26390 (master name "cachelib")
#   memcached        two Memcached servers      11311 11312
#   dynalite         DynamoDB (dynalite, npm)   8001
#   postgres         PostgreSQL 15 (initdb)     55432 (database "cachetest")
#   mariadb          MariaDB 10.11              33306 (database "cachetest")
#   ferretdb         MongoDB (FerretDB, SQLite) 27018 (built from tools/ferretdb)
#
# start installs what is missing (apt), starts what is not running and
# leaves running servers alone, so running it twice is harmless. With SERVER
# names it acts on those only. State (pid files, logs, data) lives under
# ${CACHELIB_SVC_DIR:-/tmp/cachelib-svc}; servers keep nothing on disk, so a
# restart starts empty.
#
# Adding a server: write start_NAME, stop_NAME, status_NAME and pkgs_NAME
# (the commands it needs and their Debian packages), then list NAME in SERVERS.
set -euo pipefail

SVC_DIR=${CACHELIB_SVC_DIR:-/tmp/cachelib-svc}
SERVERS=(redis redis-cluster redis-sentinel memcached dynalite postgres mariadb ferretdb)

REDIS_PORT=6390
CLUSTER_PORTS=(7000 7001 7002)
SENTINEL_PORT=26390
SENTINEL_MASTER=cachelib
MEMCACHED_PORTS=(11311 11312)

log() { echo "[services] $*" >&2; }
die() { log "$*"; exit 1; }

# --- shared helpers ---------------------------------------------------------

# running PID COMM: the process exists, is not a zombie (a killed server can
# linger as one for a moment) and runs COMM, so a recycled pid is not taken
# for our server. Read from /proc: minimal machines have no ps.
running() {
  local stat comm
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the fields after "pid (comm) "; the first is the state
  [[ $stat != Z* ]] || return 1
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  [[ $comm == "$2"* ]]
}

# alive PIDFILE COMM: the server recorded in PIDFILE is running.
alive() { [[ -s $1 ]] && running "$(cat "$1")" "$2"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# listener PORT: the pid of the process listening on 127.0.0.1:PORT, found
# through /proc (ss and fuser are not on every minimal machine).
listener() {
  local hex inode fd
  hex=$(printf '%04X' "$1")
  inode=$(awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10; exit }' /proc/net/tcp)
  [[ -n $inode ]] || return 1
  for fd in /proc/[0-9]*/fd/*; do
    if [[ $(readlink "$fd" 2>/dev/null) == "socket:[$inode]" ]]; then
      fd=${fd#/proc/}
      echo "${fd%%/*}"
      return 0
    fi
  done
  return 1
}

# launch PIDFILE LOG PORT CMD...: start CMD in the foreground of a background
# job (no daemonize, so the pid is known at once and no pidfile race), record
# its pid and wait until it accepts connections on PORT. If it exits first,
# show the end of its log and fail. A server of the same kind already
# listening on PORT, started by someone else, is used as it is and never
# stopped by this script; anything else on PORT is an error.
launch() {
  local pidfile=$1 logfile=$2 port=$3; shift 3
  local comm pid
  comm=$(basename "$1")
  if port_open "$port"; then
    pid=$(listener "$port") || pid=unknown
    if running "$pid" "$comm"; then
      log "port $port: using the $comm (pid $pid) already there, not started by this script"
      return 0
    fi
    die "port $port is taken by pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?')), not a $comm"
  fi
  # 9>&-: the server must not inherit the lock, or it would hold it forever.
  "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 300); do
    port_open "$port" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$logfile" >&2 || true
      rm -f "$pidfile"
      die "$comm exited before listening on port $port (log: $logfile)"
    fi
    sleep 0.1
  done
  die "$comm did not listen on port $port within 30 s (log: $logfile)"
}

# stop_pid PIDFILE COMM: TERM, wait up to 10 s, then KILL.
stop_pid() {
  local pidfile=$1 comm=$2 pid
  if ! alive "$pidfile" "$comm"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    running "$pid" "$comm" || break
    sleep 0.1
  done
  if running "$pid" "$comm"; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
}

# show NAME ADDR PIDFILE COMM [EXTRA]: one status line; returns 1 when down.
show() {
  local name=$1 addr=$2 pidfile=$3 comm=$4 extra=${5:-} state
  if ! port_open "${addr##*:}"; then
    printf '%-16s %-16s down\n' "$name" "$addr"
    return 1
  fi
  if alive "$pidfile" "$comm"; then
    state="up (pid $(cat "$pidfile"))"
  else
    state="up (pid $(listener "${addr##*:}" || echo '?'), not started by this script)"
  fi
  printf '%-16s %-16s %s%s\n' "$name" "$addr" "$state" "${extra:+, $extra}"
}

# need CMD PACKAGE: queue PACKAGE for installation when CMD is missing.
NEED=()
need() { command -v "$1" >/dev/null 2>&1 || NEED+=("$2"); }

install_missing() {
  NEED=()
  local s
  for s in "$@"; do "pkgs_${s//-/_}"; done
  [[ ${#NEED[@]} -eq 0 ]] && return 0
  local pkgs
  pkgs=$(printf '%s\n' "${NEED[@]}" | sort -u | tr '\n' ' ')
  log "installing: $pkgs"
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

# --- Redis standalone -------------------------------------------------------

pkgs_redis() { need redis-server redis-server; need redis-cli redis-tools; }

# Every Redis server: loopback only, nothing saved to disk, logs to stdout
# (which launch sends to its log file).
REDIS=(redis-server --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile '')

start_redis() {
  local d=$SVC_DIR/redis
  mkdir -p "$d"
  alive "$d/pid" redis-server && return 0
  launch "$d/pid" "$d/log" "$REDIS_PORT" "${REDIS[@]}" --port "$REDIS_PORT" --dir "$d"
}
stop_redis() { stop_pid "$SVC_DIR/redis/pid" redis-server; }
status_redis() { show redis "127.0.0.1:$REDIS_PORT" "$SVC_DIR/redis/pid" redis-server; }

# --- Redis Cluster ----------------------------------------------------------

pkgs_redis_cluster() { pkgs_redis; }

cluster_ok() { # PORT
  redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

cluster_up() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do cluster_ok "$p" || return 1; done
}

start_redis_cluster() {
  cluster_up && return 0
  # A cluster is all or nothing: a node that restarted alone comes back
  # without its slots. Start every node afresh and create the cluster anew.
  stop_redis_cluster
  local p d addrs=()
  for p in "${CLUSTER_PORTS[@]}"; do
    d=$SVC_DIR/redis-cluster/$p
    mkdir -p "$d"
    rm -f "$d/nodes.conf"
    # A node that misses pings for the node timeout is marked failing, and
    # with no replicas the cluster then refuses every command: on a CI
    # machine loaded to a load average of 20 that took 5 s. A test cluster
    # has no failover to speed up, so it waits longer.
    launch "$d/pid" "$d/log" "$p" "${REDIS[@]}" --port "$p" --dir "$d" \
      --cluster-enabled yes --cluster-config-file "$d/nodes.conf" --cluster-node-timeout 30000
    addrs+=("127.0.0.1:$p")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
    >"$SVC_DIR/redis-cluster/create.log" 2>&1 ||
    die "redis-cli --cluster create failed (log: $SVC_DIR/redis-cluster/create.log)"
  # create returns once the nodes agree on the configuration; wait until
  # every node also reports the slots covered.
  for _ in $(seq 1 100); do
    cluster_up && return 0
    sleep 0.1
  done
  die "redis cluster did not reach cluster_state:ok"
}

stop_redis_cluster() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do stop_pid "$SVC_DIR/redis-cluster/$p/pid" redis-server; done
}

status_redis_cluster() {
  local p rc=0 state
  for p in "${CLUSTER_PORTS[@]}"; do
    state=$(redis-cli -p "$p" cluster info 2>/dev/null | sed -n 's/^\(cluster_state:[a-z]*\).*/\1/p' || true)
    show redis-cluster "127.0.0.1:$p" "$SVC_DIR/redis-cluster/$p/pid" redis-server "$state" || rc=1
  done
  return $rc
}

# --- Redis Sentinel ---------------------------------------------------------

pkgs_redis_sentinel() { pkgs_redis; }

start_redis_sentinel() {
  local d=$SVC_DIR/redis-sentinel
  mkdir -p "$d"
  alive "$d/pid" redis-server && return 0
  # Sentinel rewrites its configuration file as it learns, so it gets a
  # fresh one on every start. Quorum 1: the only sentinel decides.
  cat >"$d/sentinel.conf" <<EOF
bind 127.0.0.1
port $SENTINEL_PORT
dir $d
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $REDIS_PORT 1
sentinel down-after-milliseconds $SENTINEL_MASTER 5000
sentinel failover-timeout $SENTINEL_MASTER 10000
EOF
  launch "$d/pid" "$d/log" "$SENTINEL_PORT" redis-server "$d/sentinel.conf" --sentinel --daemonize no --logfile ''
  for _ in $(seq 1 100); do
    redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name "$SENTINEL_MASTER" 2>/dev/null |
      grep -q "$REDIS_PORT" && return 0
    sleep 0.1
  done
  die "sentinel does not know master $SENTINEL_MASTER (log: $d/log)"
}
stop_redis_sentinel() { stop_pid "$SVC_DIR/redis-sentinel/pid" redis-server; }
status_redis_sentinel() {
  show redis-sentinel "127.0.0.1:$SENTINEL_PORT" "$SVC_DIR/redis-sentinel/pid" redis-server \
    "master $SENTINEL_MASTER"
}

# --- Memcached --------------------------------------------------------------

pkgs_memcached() { need memcached memcached; }

start_memcached() {
  local p d
  for p in "${MEMCACHED_PORTS[@]}"; do
    d=$SVC_DIR/memcached/$p
    mkdir -p "$d"
    alive "$d/pid" memcached && continue
    # Foreground with &: with -d and a pidfile memcached may write no
    # pidfile at all. -U 0: no UDP.
    launch "$d/pid" "$d/log" "$p" memcached -u root -l 127.0.0.1 -p "$p" -U 0 -m 64
  done
}
stop_memcached() {
  local p
  for p in "${MEMCACHED_PORTS[@]}"; do stop_pid "$SVC_DIR/memcached/$p/pid" memcached; done
}
status_memcached() {
  local p rc=0
  for p in "${MEMCACHED_PORTS[@]}"; do
    show memcached "127.0.0.1:$p" "$SVC_DIR/memcached/$p/pid" memcached || rc=1
  done
  return $rc
}

# --- DynamoDB (dynalite) ----------------------------------------------------

# dynalite is a DynamoDB implementation in Node, installed from npm into its
# state folder (pinned: 4.0.0 is the version the adapter is tested on). It
# keeps tables in memory. It lacks UpdateTimeToLive and TransactWriteItems;
# dynamocache enforces expiry itself and needs neither.
DYNALITE_PORT=8001
DYNALITE_VERSION=4.0.0

pkgs_dynalite() { need node nodejs; need npm npm; }

start_dynalite() {
  local d=$SVC_DIR/dynalite
  mkdir -p "$d"
  alive "$d/pid" node && return 0
  if [[ $(cat "$d/version" 2>/dev/null) != "$DYNALITE_VERSION" ]]; then
    log "installing dynalite@$DYNALITE_VERSION with npm"
    npm install --prefix "$d" --no-audit --no-fund --no-save "dynalite@$DYNALITE_VERSION" >"$d/npm.log" 2>&1 ||
      die "npm install dynalite@$DYNALITE_VERSION failed (log: $d/npm.log)"
    echo "$DYNALITE_VERSION" >"$d/version"
  fi
  # dynalite throws, and so exits, when a client disconnects before it has
  # read the whole request (a context deadline, or the fault tests cutting
  # connections): this preload logs that error and keeps serving; any other
  # uncaught error still ends the process.
  cat >"$d/survive-aborted.js" <<'EOF'
process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dynalite: client went away mid-request:', err.message);
    return;
  }
  console.error(err);
  process.exit(1);
});
EOF
  # The *TableMs options make table changes take effect at once, as
  # tests expect after waiting for ACTIVE.
  launch "$d/pid" "$d/log" "$DYNALITE_PORT" node --require "$d/survive-aborted.js" \
    "$d/node_modules/dynalite/cli.js" \
    --host 127.0.0.1 --port "$DYNALITE_PORT" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0
}
stop_dynalite() { stop_pid "$SVC_DIR/dynalite/pid" node; }
status_dynalite() { show dynalite "127.0.0.1:$DYNALITE_PORT" "$SVC_DIR/dynalite/pid" node; }

# --- PostgreSQL ---------------------------------------------------------------

# A private cluster: initdb as user postgres (the server refuses to run as
# root), trust authentication, no fsync, listening on TCP 127.0.0.1 only and
# with its Unix socket in the state folder. Debian's binaries are not on PATH.
PG_PORT=55432
PG_BIN=/usr/lib/postgresql/15/bin

pkgs_postgres() { need "$PG_BIN/postgres" postgresql; need psql postgresql-client; }

start_postgres() {
  local d=$SVC_DIR/postgres pid
  if ! alive "$d/pid" postgres; then
    if port_open "$PG_PORT"; then
      pid=$(listener "$PG_PORT") || pid=unknown
      running "$pid" postgres || die "port $PG_PORT is taken by pid $pid, not a postgres"
      log "port $PG_PORT: using the postgres (pid $pid) already there, not started by this script"
    else
      # A fresh cluster on every start, like the other servers: a restart
      # starts empty, and a cluster left unclean by a kill is never reused.
      rm -rf "$d"
      mkdir -p "$d"
      chown postgres:postgres "$d"
      runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 \
        --no-locale >"$d/initdb.log" 2>&1 || die "initdb failed (log: $d/initdb.log)"
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 30 \
        -o "-h 127.0.0.1 -p $PG_PORT -k $d -F" start >/dev/null 9>&- ||
        die "postgres did not start (log: $d/log)"
      head -n 1 "$d/data/postmaster.pid" >"$d/pid"
    fi
  fi
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'cachetest'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'CREATE DATABASE cachetest' ||
    die "cannot create database cachetest on postgres"
}

stop_postgres() {
  local d=$SVC_DIR/postgres
  # pg_ctl's fast mode disconnects clients; a plain TERM would wait for them.
  if alive "$d/pid" postgres; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -m fast -w -t 30 stop >/dev/null ||
      stop_pid "$d/pid" postgres
  fi
  rm -f "$d/pid"
}
status_postgres() { show postgres "127.0.0.1:$PG_PORT" "$SVC_DIR/postgres/pid" postgres "db cachetest"; }

# --- MariaDB ------------------------------------------------------------------

# A private data folder made by mariadb-install-db; root has no password.
# No binary log and no flush per commit: test data need no durability.
MARIADB_PORT=33306

pkgs_mariadb() { need mariadbd mariadb-server; need mariadb mariadb-client; }

MARIADB_CLIENT=(mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -uroot)

start_mariadb() {
  local d=$SVC_DIR/mariadb
  if ! alive "$d/pid" mariadbd; then
    if ! port_open "$MARIADB_PORT"; then
      rm -rf "$d" # a fresh data folder on every start, as for postgres
      mkdir -p "$d"
      mariadb-install-db --no-defaults --user=root --datadir="$d/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$d/install-db.log" 2>&1 ||
        die "mariadb-install-db failed (log: $d/install-db.log)"
    fi
    launch "$d/pid" "$d/log" "$MARIADB_PORT" "$(command -v mariadbd)" --no-defaults --user=root \
      --datadir="$d/data" --bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$d/mysqld.sock" \
      --skip-name-resolve --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
      --innodb-buffer-pool-size=128M
  fi
  local _
  for _ in $(seq 1 100); do
    "${MARIADB_CLIENT[@]}" -e 'CREATE DATABASE IF NOT EXISTS cachetest' 2>/dev/null && return 0
    sleep 0.1
  done
  die "cannot create database cachetest on mariadb (log: $d/log)"
}
stop_mariadb() { stop_pid "$SVC_DIR/mariadb/pid" mariadbd; }
status_mariadb() { show mariadb "127.0.0.1:$MARIADB_PORT" "$SVC_DIR/mariadb/pid" mariadbd "db cachetest"; }

# --- MongoDB wire protocol (FerretDB) -----------------------------------------

# No MongoDB server can be installed here, so the MongoDB tests run on
# FerretDB v1 with its SQLite backend, built from the wrapper module in
# tools/ferretdb into the state folder (again whenever its sources are newer
# than the binary). FerretDB has no TTL indexes; mongocache enforces expiry
# itself. The data folder is emptied on every start, as for the other servers,
# and SQLite does not sync to disk (test data need no durability).
FERRETDB_PORT=27018
FERRETDB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools/ferretdb" && pwd)

# Go builds the server; Debian's golang is too old for it, so it is not
# installed from apt.
pkgs_ferretdb() { command -v go >/dev/null 2>&1 || die "ferretdb: go (1.26 or later) is needed to build tools/ferretdb"; }

start_ferretdb() {
  local d=$SVC_DIR/ferretdb
  mkdir -p "$d"
  alive "$d/pid" ferretdb && return 0
  if [[ ! -x $d/ferretdb ]] ||
    [[ -n $(find "$FERRETDB_SRC" -maxdepth 1 \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -newer "$d/ferretdb") ]]; then
    log "building tools/ferretdb (the first build takes a minute or two)"
    (cd "$FERRETDB_SRC" && CGO_ENABLED=0 go build -o "$d/ferretdb.new" .) >"$d/build.log" 2>&1 ||
      die "building tools/ferretdb failed (log: $d/build.log)"
    mv "$d/ferretdb.new" "$d/ferretdb"
  fi
  port_open "$FERRETDB_PORT" || rm -rf "$d/data"
  launch "$d/pid" "$d/log" "$FERRETDB_PORT" "$d/ferretdb" -listen-addr "127.0.0.1:$FERRETDB_PORT" \
    -handler sqlite -sqlite-url "file:$d/data/?_pragma=synchronous(off)"
}
stop_ferretdb() { stop_pid "$SVC_DIR/ferretdb/pid" ferretdb; }
status_ferretdb() { show ferretdb "127.0.0.1:$FERRETDB_PORT" "$SVC_DIR/ferretdb/pid" ferretdb "sqlite"; }

# --- main -------------------------------------------------------------------

cmd=${1:-}
shift || true
selected=("$@")
[[ ${#selected[@]} -gt 0 ]] || selected=("${SERVERS[@]}")
for s in "${selected[@]}"; do
  [[ " ${SERVERS[*]} " == *" $s "* ]] || die "unknown server $s (known: ${SERVERS[*]})"
done

mkdir -p "$SVC_DIR"
# One run at a time: two concurrent starts would race for the same ports.
exec 9>"$SVC_DIR/lock"
flock 9

case $cmd in
start)
  install_missing "${selected[@]}"
  for s in "${selected[@]}"; do "start_${s//-/_}"; done
  log "up: ${selected[*]}"
  ;;
stop)
  for ((i = ${#selected[@]} - 1; i >= 0; i--)); do s=${selected[i]}; "stop_${s//-/_}"; done
  log "stopped: ${selected[*]}"
  ;;
status)
  rc=0
  for s in "${selected[@]}"; do "status_${s//-/_}" || rc=1; done
  exit $rc
  ;;
*)
  echo "usage: $0 start|stop|status [SERVER...]   servers: ${SERVERS[*]}" >&2
  exit 2
  ;;
esac
