#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for the tests: trust auth on 127.0.0.1 only, fsync off,
# nothing written outside its data dir (no /etc/postgresql, no system service).
#
#   scripts/pg-test-cluster.sh [start]   starts it and prints its URL, e.g. postgres://postgres@127.0.0.1:54329/trent
#   scripts/pg-test-cluster.sh stop      stops it and removes its data dir
#   scripts/pg-test-cluster.sh down      stops the server, keeping the data (for outage tests)
#   scripts/pg-test-cluster.sh up        starts the server of `down` again
#
#   TRENT_PG_PORT  port (default 54329)
#   TRENT_PG_DIR   data dir (default /tmp/trent-pg-$TRENT_PG_PORT); every parent must be traversable
#                  by the postgres user when run as root
#
# As root the server runs as the `postgres` user (initdb refuses root); otherwise as the caller.
# Uses the newest /usr/lib/postgresql/*/bin. Never use such a cluster for real data: fsync is off.
set -euo pipefail

PORT=${TRENT_PG_PORT:-54329}
DIR=${TRENT_PG_DIR:-/tmp/trent-pg-$PORT}
DB=trent
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  echo "pg-test-cluster: no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 3
fi

if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

pg_start() {
  # -k: the Unix socket goes into the data dir, not /var/run/postgresql (which may not exist).
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
}

pg_stop() {
  if [ -f "$DIR/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null; fi
}

case "${1:-start}" in
  start)
    pg_stop 2>/dev/null || true
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
    as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR.initdb.log" 2>&1 ||
      { cat "$DIR.initdb.log" >&2; exit 1; }
    rm -f "$DIR.initdb.log"
    pg_start || { cat "$DIR/server.log" >&2; exit 1; }
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    echo "postgres://postgres@127.0.0.1:$PORT/$DB"
    ;;
  stop)
    pg_stop || true
    rm -rf "$DIR"
    ;;
  down)
    pg_stop
    ;;
  up)
    pg_start || { cat "$DIR/server.log" >&2; exit 1; }
    ;;
  *)
    echo "usage: $0 [start|stop|down|up]" >&2
    exit 2
    ;;
esac
