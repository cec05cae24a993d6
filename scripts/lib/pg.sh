# Shared by scripts/demo and scripts/bench: a private PostgreSQL 15 in a directory of its own,
# as the `postgres` OS user when run as root (initdb refuses root), listening on 127.0.0.1.
#   pg_start DIR    starts it; sets PG_PORT and PG_DIR
#   pg_stop         stops it and removes DIR
#   pg_psql ARGS    psql against it
pg_bin=/usr/lib/postgresql/15/bin
PG_DIR=""
PG_PORT=""

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  PG_DIR="$1"
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; fi
  pg_as_owner "$pg_bin/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
  local candidate
  for _ in 1 2 3 4 5 6 7 8; do
    candidate=$((20000 + RANDOM % 30000))
    if pg_as_owner "$pg_bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
         -o "-c wal_level=logical -c port=$candidate -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR ${PG_EXTRA_OPTS:-}" \
         start >/dev/null 2>&1; then
      PG_PORT=$candidate
      return 0
    fi
  done
  echo "could not start PostgreSQL; see $PG_DIR/server.log" >&2
  return 1
}

pg_stop() {
  if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
    pg_as_owner "$pg_bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  fi
  [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
  PG_DIR=""
}

pg_psql() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
