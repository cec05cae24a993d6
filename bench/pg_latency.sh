#!/usr/bin/env bash
# Commit-to-file-target latency: pgbench commits 5-row transactions at a fixed rate while
# `cdc-pipeline run` (durable stream and checkpoints on, the default) delivers them to a JSONL
# file target; bench/latency_tail follows the file and measures, per row, the time from the
# transaction's commit (detail.timestamp) to the moment its line is readable.
# Usage: bench/pg_latency.sh [SECONDS] [ROWS_PER_SECOND ...]   (default: 20 s at 2000 and 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(2000 10000)
bin="${CDC_BIN:-$(pwd)/build/bin/cdc-pipeline}"  # CDC_BIN: another build, for before/after runs
tail_bin="$(pwd)/build-bench/bin/latency_tail"
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
[ -x "$tail_bin" ] || { echo "build the benchmarks first: cmake --preset bench && cmake --build build-bench" >&2; exit 1; }
pgbench=/usr/lib/postgresql/15/bin/pgbench

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work/postgres"
pg_psql -d postgres -c "CREATE DATABASE bench"
pg_psql -d bench -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE lat (id bigserial PRIMARY KEY, name text NOT NULL, qty integer, price numeric(12,2),
                  at timestamptz DEFAULT now());
SQL
cat > "$work/insert.sql" <<'SQL'
INSERT INTO lat (name, qty, price) SELECT 'item-' || g, g, g * 1.25 FROM generate_series(1, 5) g;
SQL
dsn="host=127.0.0.1 port=$PG_PORT dbname=bench user=postgres"

echo "| rows/s | rows delivered | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
echo "|--------|----------------|--------|--------|--------|----------|--------|"
for rate in "${rates[@]}"; do
  data="$work/data-$rate"
  mkdir -p "$data"
  cat > "$work/lat-$rate.yaml" <<YAML
pipeline: {name: bench, data_dir: "$data", log_level: warn}
source:
  type: postgres
  dsn: "$dsn"
  slot: lat_$rate
  publication: lat_pub
  snapshot: never
tables:
  lat: {event_types: [INSERT]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: {type: file, path: "$data/out.jsonl", fsync: batch}
YAML
  "$bin" run --config "$work/lat-$rate.yaml" 2>"$work/run-$rate.log" &
  pid=$!
  # Ready once the slot exists and is streaming.
  until [ "$(pg_psql -d bench -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lat_$rate' AND active")" = "1" ]; do
    sleep 0.1
  done
  "$tail_bin" "$data/out.jsonl" 5 > "$work/tail-$rate.out" &
  tail_pid=$!
  tps=$((rate / 5))
  "$pgbench" -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 4 -j 2 -R "$tps" -T "$seconds" \
    -f "$work/insert.sql" bench > "$work/pgbench-$rate.out" 2>&1
  wait "$tail_pid"
  kill -TERM "$pid"
  wait "$pid" || true
  read -r count p50 p90 p99 p999 max < "$work/tail-$rate.out"
  printf '| %6d | %14d | %6.2f | %6.2f | %6.2f | %8.2f | %6.2f |\n' "$rate" "$count" "$p50" "$p90" "$p99" "$p999" "$max"
done
